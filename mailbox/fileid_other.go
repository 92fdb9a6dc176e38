//go:build !linux

package mailbox

import "golang.org/x/sys/unix"

// idOf is the identity of one version of a file (see fileID); elsewhere
// than Linux only the inode and the size, which every system has under
// these names.
func idOf(st *unix.Stat_t) fileID {
	return fileID{ino: uint64(st.Ino), size: st.Size}
}

// ctimeKnown: idOf has no ctime here, so the folders cache is never used.
const ctimeKnown = false
