package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// payload is what an escaped unit would run: proof that it ran as root
// outside the sandbox, in the two places the issue saw written.
func payload(tag string) string {
	return fmt.Sprintf("id >/root/aimx-probe-%s; id >/usr/aimx-probe-%s", tag, tag)
}

func attempts() []attempt {
	var as []attempt
	add := func(name string, fn func() (string, error)) { as = append(as, attempt{name, fn}) }

	add("identity", identity)

	// PID 1: its private socket (what systemctl uses as root), and D-Bus,
	// spoken here directly, and through systemd-run, the tool an attacker
	// would reach for.
	add("pid1-private-start", func() (string, error) {
		return startTransientUnit("/run/systemd/private", false, "aimx-probe-private.service", payload("private"))
	})
	add("dbus-start", func() (string, error) {
		return startTransientUnit("/run/dbus/system_bus_socket", true, "aimx-probe-bus.service", payload("bus"))
	})
	add("systemd-run", func() (string, error) {
		return command(15*time.Second, "systemd-run", "--no-ask-password", "--quiet", "--collect",
			"--unit=aimx-probe-run", "/bin/sh", "-c", payload("run"))
	})

	// Secrets: the shadow files, and files the guest plants where other
	// services keep theirs.
	for _, p := range []string{
		"/etc/shadow", "/etc/gshadow",
		"/etc/aimx-probe-secret", "/etc/ssl/private/aimx-probe.key",
		"/var/lib/aimx-probe/secret", "/run/aimx-probe/secret",
		"/root/aimx-probe-secret", "/proc/1/environ",
	} {
		add("read:"+p, func() (string, error) { return read(p) })
	}

	// Writes: a new file in each folder. The first two are the helper's
	// job; /tmp and /var/tmp are the unit's private ones.
	for _, dir := range []string{
		"/etc/aimx", "/var/lib/aimx",
		"/root", "/home", "/usr", "/usr/local/bin", "/etc", "/etc/systemd/system",
		"/var/lib", "/var/spool", "/run", "/run/systemd", "/dev/shm", "/dev/mqueue",
		"/srv", "/opt", "/tmp", "/var/tmp",
	} {
		add("create:"+dir, func() (string, error) { return create(dir) })
	}
	// Existing files and endpoints opened for writing (nothing is written):
	// /run/initctl is the SysV FIFO that asks PID 1 to change runlevel and
	// checks no credentials.
	for _, p := range []string{"/etc/passwd", "/usr/bin/passwd", "/run/initctl", "/dev/initctl"} {
		add("open-write:"+p, func() (string, error) { return openWrite(p) })
	}
	// The probe's own binary, under /usr: CAP_CHOWN must not reach it.
	add("chown:/usr/lib/aimx-vmtest/probe", func() (string, error) {
		return "", os.Lchown("/usr/lib/aimx-vmtest/probe", os.Getuid(), os.Getgid())
	})
	add("setuid-0", func() (string, error) { return "", syscall.Setuid(0) })
	add("signal-pid1", func() (string, error) { return "", syscall.Kill(1, 0) })
	// A user namespace would hand it every capability inside it.
	add("unshare-user", func() (string, error) {
		return command(10*time.Second, "unshare", "--user", "--map-root-user", "true")
	})

	// What the helper needs: the journal, NSS's local sockets (the guest
	// plants listeners at the ones it has none of), the user database.
	for _, p := range []string{
		"/run/systemd/journal/socket", "/run/nscd/socket", "/run/nslcd/socket",
		"/run/systemd/userdb/io.aimx.probe", "/var/lib/sss/pipes/nss",
	} {
		add("connect:"+p, func() (string, error) { return dial(p) })
	}
	add("read:/etc/passwd", func() (string, error) { return read("/etc/passwd") })
	return as
}

func identity() (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "uid=%d gid=%d euid=%d", os.Getuid(), os.Getgid(), os.Geteuid())
	groups, _ := os.Getgroups()
	fmt.Fprintf(&b, " groups=%v", groups)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return b.String(), err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp":
			fmt.Fprintf(&b, " %s=%s", k, strings.TrimSpace(v))
		}
	}
	cg, _ := os.ReadFile("/proc/self/cgroup")
	fmt.Fprintf(&b, " cgroup=%s", strings.TrimSpace(string(cg)))
	return b.String(), nil
}

// read reports the length and hash of what it read, so the guest can
// tell a read of the real file from one of an empty stand-in.
func read(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("len=%d sha256=%s", len(b), hex.EncodeToString(sum[:])), nil
}

// create makes a new file in dir. In the two folders the helper owns it
// removes it again; anywhere else it leaves it for the guest to find.
func create(dir string) (string, error) {
	p := filepath.Join(dir, fmt.Sprintf("aimx-probe-%d", os.Getpid()))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return p, err
	}
	// Created is enough (in /dev/mqueue a file is a message queue, which
	// write(2) refuses); the write is only reported.
	detail := p
	if _, werr := f.WriteString("written by the sandbox probe\n"); werr != nil {
		detail += " (created; write: " + werr.Error() + ")"
	}
	f.Close()
	if dir == "/etc/aimx" || dir == "/var/lib/aimx" || dir == "/tmp" || dir == "/var/tmp" {
		os.Remove(p)
	}
	return detail, nil
}

func openWrite(p string) (string, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return "", err
	}
	f.Close()
	return "opened for writing", nil
}

// dial connects to the socket at p: a stream socket, or a datagram one
// such as journald's.
func dial(p string) (string, error) {
	c, err := net.DialTimeout("unix", p, 5*time.Second)
	if errors.Is(err, syscall.EPROTOTYPE) {
		c, err = net.DialTimeout("unixgram", p, 5*time.Second)
	}
	if err != nil {
		return "", err
	}
	c.Close()
	return "connected", nil
}

func command(timeout time.Duration, name string, args ...string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	cmd := exec.Command(path, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		err = <-done
		err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	return out.String(), err
}

// startTransientUnit asks systemd, over the D-Bus wire protocol on the
// socket at path, to start a transient service running sh -c cmd. With
// bus set it talks to a message bus (Hello first, then the call routed to
// org.freedesktop.systemd1); without, it talks to PID 1 directly, as
// systemctl does on /run/systemd/private. It succeeds only when systemd
// answers with a job.
func startTransientUnit(path string, bus bool, unit, cmd string) (string, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	d := &dbusConn{c: c}
	if err := d.auth(); err != nil {
		return "connected", err
	}
	dest := ""
	if bus {
		dest = "org.freedesktop.systemd1"
		if _, err := d.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", "", nil); err != nil {
			return "connected, authenticated", err
		}
	}
	var body enc
	body.str(unit)
	body.str("fail")
	// a(sv): ExecStart = a(sasb) [("/bin/sh", ["/bin/sh", "-c", cmd], false)]
	body.array(8, func() {
		body.align(8)
		body.str("ExecStart")
		body.sig("a(sasb)")
		body.array(8, func() {
			body.align(8)
			body.str("/bin/sh")
			body.array(4, func() {
				for _, a := range []string{"/bin/sh", "-c", cmd} {
					body.str(a)
				}
			})
			body.u32(0)
		})
	})
	// a(sa(sv)): no auxiliary units.
	body.array(8, func() {})
	reply, err := d.call(dest, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
		"StartTransientUnit", "ssa(sv)a(sa(sv))", body.b)
	if err != nil {
		return "connected, authenticated", err
	}
	return "systemd answered with a job: " + reply, nil
}

// dbusConn is just enough of a D-Bus client for the probe: EXTERNAL
// authentication, method calls, and their replies.
type dbusConn struct {
	c      net.Conn
	serial uint32
	buf    []byte
}

func (d *dbusConn) auth() error {
	uid := hex.EncodeToString([]byte(strconv.Itoa(os.Getuid())))
	if _, err := d.c.Write([]byte("\x00AUTH EXTERNAL " + uid + "\r\n")); err != nil {
		return err
	}
	line, err := d.line()
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if !strings.HasPrefix(line, "OK ") {
		return fmt.Errorf("auth refused: %q", line)
	}
	_, err = d.c.Write([]byte("BEGIN\r\n"))
	return err
}

func (d *dbusConn) line() (string, error) {
	for {
		if i := bytes.Index(d.buf, []byte("\r\n")); i >= 0 {
			l := string(d.buf[:i])
			d.buf = d.buf[i+2:]
			return l, nil
		}
		if err := d.fill(); err != nil {
			return "", err
		}
	}
}

func (d *dbusConn) fill() error {
	b := make([]byte, 4096)
	n, err := d.c.Read(b)
	d.buf = append(d.buf, b[:n]...)
	if n > 0 {
		return nil
	}
	return err
}

func (d *dbusConn) need(n int) error {
	for len(d.buf) < n {
		if err := d.fill(); err != nil {
			return err
		}
	}
	return nil
}

// call sends one method call and waits for its reply, skipping signals.
// It returns the reply's body summary, or the error the peer sent.
func (d *dbusConn) call(dest, path, iface, member, signature string, body []byte) (string, error) {
	d.serial++
	var m enc
	m.b = append(m.b, 'l', 1, 0, 1) // little endian, METHOD_CALL, no flags, version 1
	m.u32(uint32(len(body)))
	m.u32(d.serial)
	field := func(code byte, sig string, put func()) {
		m.align(8)
		m.b = append(m.b, code)
		m.sig(sig)
		put()
	}
	m.array(8, func() {
		field(1, "o", func() { m.str(path) })
		field(2, "s", func() { m.str(iface) })
		field(3, "s", func() { m.str(member) })
		if dest != "" {
			field(6, "s", func() { m.str(dest) })
		}
		if signature != "" {
			field(8, "g", func() { m.sig(signature) })
		}
	})
	m.align(8)
	m.b = append(m.b, body...)
	if _, err := d.c.Write(m.b); err != nil {
		return "", err
	}
	for {
		typ, replyTo, errName, rbody, err := d.read()
		if err != nil {
			return "", err
		}
		if replyTo != d.serial || (typ != 2 && typ != 3) {
			continue
		}
		if typ == 3 {
			return "", fmt.Errorf("%s: %s", errName, firstString(rbody))
		}
		return firstString(rbody), nil
	}
}

// read returns the next message's type, reply serial, error name and body.
func (d *dbusConn) read() (typ byte, replyTo uint32, errName string, body []byte, err error) {
	if err = d.need(16); err != nil {
		return
	}
	if d.buf[0] != 'l' {
		err = errors.New("big-endian reply: not handled by the probe")
		return
	}
	le := func(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 }
	typ = d.buf[1]
	bodyLen := int(le(d.buf[4:]))
	fieldsLen := int(le(d.buf[12:]))
	head := 16 + fieldsLen
	head += (8 - head%8) % 8
	if err = d.need(head + bodyLen); err != nil {
		return
	}
	msg := d.buf[:head+bodyLen]
	d.buf = d.buf[head+bodyLen:]
	// Header fields: a(yv), each struct 8-aligned.
	for i := 16; i < 16+fieldsLen; {
		i += (8 - i%8) % 8
		if i >= 16+fieldsLen {
			break
		}
		code := msg[i]
		sl := int(msg[i+1])
		sig := string(msg[i+2 : i+2+sl])
		i += 2 + sl + 1
		switch sig {
		case "s", "o":
			i += (4 - i%4) % 4
			n := int(le(msg[i:]))
			if code == 4 {
				errName = string(msg[i+4 : i+4+n])
			}
			i += 4 + n + 1
		case "g":
			n := int(msg[i])
			i += 1 + n + 1
		case "u":
			i += (4 - i%4) % 4
			if code == 5 {
				replyTo = le(msg[i:])
			}
			i += 4
		default:
			err = fmt.Errorf("header field %d of type %q: not handled by the probe", code, sig)
			return
		}
	}
	body = msg[head:]
	return
}

// firstString is the body's leading string or object path, if any.
func firstString(b []byte) string {
	if len(b) < 4 {
		return ""
	}
	n := int(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
	if 4+n > len(b) {
		return ""
	}
	return string(b[4 : 4+n])
}

// enc marshals D-Bus values, little endian; offsets count from the start
// of the buffer, which is where alignment is measured (a message body
// starts 8-aligned, so the same holds for a separate body buffer).
type enc struct{ b []byte }

func (e *enc) align(n int) {
	for len(e.b)%n != 0 {
		e.b = append(e.b, 0)
	}
}

func (e *enc) u32(v uint32) {
	e.align(4)
	e.b = append(e.b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

func (e *enc) str(s string) {
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
	e.b = append(e.b, 0)
}

// sig writes a signature (a variant's type, or a value of type g).
func (e *enc) sig(s string) {
	e.b = append(e.b, byte(len(s)))
	e.b = append(e.b, s...)
	e.b = append(e.b, 0)
}

// array writes a length-prefixed array whose elements are aligned to
// elemAlign; fill appends the elements.
func (e *enc) array(elemAlign int, fill func()) {
	e.u32(0)
	at := len(e.b) - 4
	e.align(elemAlign)
	start := len(e.b)
	fill()
	n := uint32(len(e.b) - start)
	e.b[at], e.b[at+1], e.b[at+2], e.b[at+3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
}
