//go:build !linux

package mailbox

import "golang.org/x/sys/unix"

// renameExclusive has no system call here: renameNoReplace checks, then
// renames.
func renameExclusive(dir int, from, to string) error { return unix.ENOSYS }
