package aimxtest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// User is a real user of this machine, or a bare uid (Ghost).
type User struct {
	Name     string
	UID, GID uint32
}

// Ghost is a caller uid with no passwd entry.
var Ghost = User{Name: "ghost", UID: 54321, GID: 54321}

// Credential makes a command run as u, with u's primary group and no
// supplementary groups. A nil u runs it as the caller.
func (u *User) Credential() *syscall.SysProcAttr {
	if u == nil {
		return nil
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}}}
}

// LookupUser returns the passwd entry of name.
func LookupUser(name string) (User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return User{}, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	return User{Name: u.Username, UID: uint32(uid), GID: uint32(gid)}, nil
}

// AddUser creates the system user name with its own group, no home and
// no login shell (useradd; root only), first removing one that a crashed
// earlier run left.
func AddUser(name string) (User, error) {
	exec.Command("userdel", name).Run()
	if out, err := exec.Command("useradd", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		return User{}, fmt.Errorf("useradd %s: %v: %s", name, err, out)
	}
	return LookupUser(name)
}

// EnsureUser returns the user name, creating it when missing; made says
// whether it did, and so whether the caller must RemoveUser it.
func EnsureUser(name string) (u User, made bool, err error) {
	if u, err := LookupUser(name); err == nil {
		return u, false, nil
	}
	u, err = AddUser(name)
	return u, err == nil, err
}

// RemoveUser removes the user name and its group (userdel).
func RemoveUser(name string) error {
	if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
		return fmt.Errorf("userdel %s: %v: %s", name, err, out)
	}
	return nil
}

// Ordinary is the ordinary user a test acts as: the one running it, or
// nobody when that is root (so that root's run checks what an ordinary
// user gets too).
func Ordinary() (User, error) {
	if os.Geteuid() == 0 {
		return LookupUser("nobody")
	}
	u, err := user.Current()
	if err != nil {
		return User{}, err
	}
	return LookupUser(u.Username)
}
