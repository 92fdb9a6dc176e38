// Command rsswrap runs one per-connection helper the way
// systemd-socket-activate --accept would (fd 3, LISTEN_FDS=1, LISTEN_PID
// = the helper's own pid) and appends the helper's peak resident set
// (getrusage ru_maxrss of the child, KiB) and wall time to a log. It is
// evidence tooling for make bench and the integration suite, never part
// of the product: the helper runs unmodified.
//
//	rsswrap LOGFILE HELPER [ARGS...]
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: rsswrap LOGFILE HELPER [ARGS...]")
		os.Exit(2)
	}
	log, helper := os.Args[1], os.Args[2]
	// The shell's pid is the helper's pid after exec: LISTEN_PID must
	// name the process that reads the sockets.
	cmd := exec.Command("/bin/sh", append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, helper}, os.Args[3:]...)...)
	cmd.ExtraFiles = []*os.File{os.NewFile(3, "socket")}
	env := []string{"LISTEN_FDS=1"}
	for _, kv := range os.Environ() {
		if len(kv) < 11 || kv[:11] != "LISTEN_PID=" && kv[:11] != "LISTEN_FDS=" {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "rsswrap:", err)
		os.Exit(1)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		if f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(f, "%d %d %d\n", ru.Maxrss, wall.Microseconds(), code)
			f.Close()
		}
	}
	os.Exit(code)
}
