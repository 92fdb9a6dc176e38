// Package guest holds the VM lane's scenarios: tests that run inside a
// Debian guest booted with systemd as PID 1, install the aimx-mailboxd
// .deb with dpkg and talk to the activated socket as real users.
//
// The tests carry the vmtest build tag, so a plain `go test ./...` does
// not build them; `make vmtest` builds them with `go test -c -tags
// vmtest` and runs the binary in the guest (see vmtests/vmtest.sh).
package guest
