// Package faults holds the crash and fault injection evidence for
// behavior.md's "Crash safety": the real helper binary, unmodified, runs
// on a real connected UNIX socket under strace(1), which kills it with
// SIGKILL at each file-system syscall of a CREATE or DELETE, or makes one
// such syscall fail with EIO, ENOSPC, EDQUOT or EACCES; every run is then
// checked against the invariants. The tests are behind the build tag
// `faults` (make faults, make faults-quick) because they need root and
// strace.
package faults
