package mailbox

import "golang.org/x/sys/unix"

// idOf is the identity of one version of a file (see fileID).
func idOf(st *unix.Stat_t) fileID {
	return fileID{dev: st.Dev, ino: st.Ino, size: st.Size, mtim: st.Mtim, ctim: st.Ctim}
}

// ctimeKnown: idOf holds the ctime, which the folders cache's key needs.
const ctimeKnown = true
