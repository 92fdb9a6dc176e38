package aimxtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ListenTimeout bounds the wait for an activator's socket.
const ListenTimeout = 10 * time.Second

// Activator is one systemd-socket-activate --accept serving a program on
// a socket: one instance of it per connection, as systemd's Accept=yes.
type Activator struct {
	Sock string
	Logs *Buffer // what the activator and every instance wrote
	cmd  *exec.Cmd
	once sync.Once
}

// Activate starts systemd-socket-activate --accept on sock running argv
// (the program and its arguments; flags for the activator itself, such as
// -E, may come first), waits until the socket listens and makes it 0666,
// so that any user may connect. The error says what the activator wrote
// when nothing listens within ListenTimeout.
func Activate(sock string, argv ...string) (*Activator, error) {
	a := &Activator{Sock: sock, Logs: &Buffer{}}
	a.cmd = exec.Command("systemd-socket-activate", append([]string{"--accept", "-l", sock}, argv...)...)
	a.cmd.Stdout, a.cmd.Stderr = a.Logs, a.Logs
	if err := a.cmd.Start(); err != nil {
		return nil, fmt.Errorf("systemd-socket-activate: %w", err)
	}
	if err := WaitListening(sock, ListenTimeout); err != nil {
		a.Stop()
		return nil, fmt.Errorf("%w; the activator said:\n%s", err, a.Logs)
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		a.Stop()
		return nil, err
	}
	return a, nil
}

// Stop ends the activator (SIGTERM) and waits for it; instances already
// started run to their end. Calling it again does nothing.
func (a *Activator) Stop() {
	a.once.Do(func() {
		a.cmd.Process.Signal(syscall.SIGTERM)
		a.cmd.Wait()
	})
}

// CPU is the user and system time of the activator and of every
// instance it reaped (wait4's rusage of the activator), once Stop has
// returned; 0 before.
func (a *Activator) CPU() time.Duration {
	st := a.cmd.ProcessState
	if st == nil {
		return 0
	}
	return st.UserTime() + st.SystemTime()
}

// Instances lists the pids of the instances running now.
func (a *Activator) Instances() []string {
	pid := a.cmd.Process.Pid
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	return strings.Fields(string(b))
}

// Logged reports whether one line of the logs holds every one of parts,
// waiting up to within for it: an instance's stderr reaches the activator
// through a pipe, after its answer.
func (a *Activator) Logged(within time.Duration, parts ...string) bool {
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(a.Logs.String(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// WaitListening waits until a UNIX socket bound at path listens. Its file
// appears at bind(), a moment before listen(); a connect() in between is
// refused, so the file alone is not enough.
func WaitListening(path string, within time.Duration) error {
	for deadline := time.Now().Add(within); !Listening(path); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s", path, within)
		}
	}
	return nil
}

// Listening reports whether a UNIX socket bound at path is listening
// (flag __SO_ACCEPTCON in /proc/net/unix).
func Listening(path string) bool {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 8 && f[7] == path && f[3] == "00010000" {
			return true
		}
	}
	return false
}

// Buffer is a bytes.Buffer that several goroutines may write (a command's
// stdout and stderr) while a test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
