package aimxtest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// CheckDir says what is wrong with path unless it is a folder (not a
// link) owned by uid:gid with permissions mode; nil when it is.
func CheckDir(path string, uid, gid uint32, mode os.FileMode) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || st.Uid != uid || st.Gid != gid || fi.Mode().Perm() != mode {
		return fmt.Errorf("%s: dir=%v %d:%d %o, want a dir %d:%d %o", path, fi.IsDir(), st.Uid, st.Gid, fi.Mode().Perm(), uid, gid, mode)
	}
	return nil
}

// OpenUnlinked lists, sorted, the files and folders under root that were
// unlinked and that this process still holds open (as /proc/self/fd
// shows them: the path, then " (deleted)").
func OpenUnlinked(root string) ([]string, error) {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, fd := range fds {
		p, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(p, root+"/") && strings.HasSuffix(p, " (deleted)") {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}
