package mailbox

import "golang.org/x/sys/unix"

// renameExclusive is renameat2(2) with RENAME_NOREPLACE in folder dir.
func renameExclusive(dir int, from, to string) error {
	return unix.Renameat2(dir, from, dir, to, unix.RENAME_NOREPLACE)
}
