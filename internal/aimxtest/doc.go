// Package aimxtest is the one test harness that every suite shares
// (server, integration, faults, the VM guest, bench/load), as
// gokrazy/rsync keeps internal/rsynctest:
//
//   - frames: the AIMX/1 request and response bytes a test sends and
//     expects (Create, Delete, Err, OK, Stanza);
//   - Exchange: one frame over a UNIX socket, half-closed, the whole
//     answer back;
//   - Sandbox and Activator: a config, data dir and socket in a temp
//     folder, served by systemd-socket-activate --accept running a built
//     helper, ready only once the socket listens;
//   - users: look up, create and remove real users (root only), and a
//     Credential to run a command as one;
//   - Child and RawAs: a step run as another uid by re-executing the
//     test binary (a world-executable copy, see CopySelf).
//
// It imports no testing package, so a program (bench/load) uses it too:
// every function returns an error and leaves failing to its caller.
package aimxtest
