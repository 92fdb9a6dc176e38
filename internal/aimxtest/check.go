package aimxtest

import (
	"fmt"
	"os"
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
