// Command probe stands in for an attacker's code running inside
// aimx-mailboxd@.service. The VM lane starts it through a drop-in that
// replaces the unit's ExecStart=, so it runs with exactly the sandbox the
// real helper gets (account, capabilities, mount namespace, system-call
// filter). It tries every escape that issue 8 names and a few more, and
// writes one line per attempt to the connection it was handed (fd 3):
//
//	<attempt> <ok|fail> <detail>
//
// "ok" means the operation succeeded, "fail" that it did not; the probe
// does not judge. The guest test (vmtests/guest/sandbox_probe_test.go)
// knows which attempts must fail (escapes) and which must succeed (what
// the helper needs: its config folder, its data dir, the journal, NSS).
//
// Every attempt that would change the host targets a name starting with
// "aimx-probe", so the guest can look for traces afterwards.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	// It really tries: run anywhere but in the unit, as root, it would
	// write files in /root and /usr and reach PID 1.
	if os.Getenv("LISTEN_FDS") != "1" || os.Getenv("INVOCATION_ID") == "" {
		fmt.Fprintln(os.Stderr, "probe: refusing to run outside a socket-activated systemd unit: it attempts real escapes (see vmtests/guest/sandbox_probe_test.go)")
		os.Exit(2)
	}
	out := os.NewFile(3, "connection")
	report := func(name string, err error, detail string) {
		result := "ok"
		if err != nil {
			result = "fail"
			detail = strings.TrimSpace(detail + " " + err.Error())
		}
		detail = strings.Join(strings.Fields(detail), " ")
		fmt.Fprintf(out, "%s %s %s\n", name, result, detail)
	}
	for _, a := range attempts() {
		detail, err := a.fn()
		report(a.name, err, detail)
	}
	fmt.Fprintln(out, "end ok probe finished")
	out.Close()
}

type attempt struct {
	name string
	fn   func() (string, error)
}
