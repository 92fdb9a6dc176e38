// Package faults holds the crash and fault injection evidence for
// docs/BEHAVIOR.md's "Crash safety": the real helper binary, unmodified, runs
// on a real connected UNIX socket under strace(1), which kills it with
// SIGKILL at each file-system syscall of a CREATE or DELETE, or makes one
// such syscall fail with EIO, ENOSPC, EDQUOT or EACCES; every run is then
// checked against the invariants. The tests are behind the build tag
// `faults` (make faults, make faults-quick) because they need root and
// strace.
//
// The files, by concern:
//
//   - main_test.go: flags, building the helper, the test user.
//   - sandbox_test.go: the scenarios and the sandbox each one runs in.
//   - serve_test.go: one connection served by the helper, under strace.
//   - strace_test.go: the strace log parser and the syscall sets.
//   - snapshot_test.go: the snapshot of a sandbox and its differ.
//   - engine_test.go: the reference run, the kill and error jobs, retries.
//   - check_test.go: one faulted run checked against the invariants.
//   - report_test.go: the markdown summary for docs/RELIABILITY.md.
package faults
