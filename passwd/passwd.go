// Package passwd resolves users through the system's name service (NSS,
// through cgo, so LDAP, sssd and systemd-userdb accounts work). It is the
// one effect the rules in authz need; authz itself does no I/O.
//
// It promises that a user who does not exist is an error wrapping
// ErrNoEntry, told apart from a name service that fails.
package passwd

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
)

// User is a passwd entry: a name with its uid and primary gid.
type User struct {
	Name string
	UID  uint32
	GID  uint32
}

// ErrNoEntry is wrapped by LookupUID and LookupName when the user
// does not exist (as opposed to a failing name service).
var ErrNoEntry = errors.New("no passwd entry")

// LookupUID resolves uid through the system's name service.
func LookupUID(uid uint32) (User, error) {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	var unknown user.UnknownUserIdError
	if errors.As(err, &unknown) {
		return User{}, &noEntry{fmt.Sprintf("uid %d has no passwd entry", uid)}
	}
	if err != nil {
		return User{}, fmt.Errorf("look up uid %d: %w", uid, err)
	}
	return toUser(u)
}

// LookupName resolves a user name through the system's name service.
func LookupName(name string) (User, error) {
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return User{}, &noEntry{fmt.Sprintf("user '%s' has no passwd entry", name)}
	}
	if err != nil {
		return User{}, fmt.Errorf("look up user '%s': %w", name, err)
	}
	return toUser(u)
}

func toUser(u *user.User) (User, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("user '%s' has a non-numeric uid %q", u.Username, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("user '%s' has a non-numeric gid %q", u.Username, u.Gid)
	}
	return User{Name: u.Username, UID: uint32(uid), GID: uint32(gid)}, nil
}

type noEntry struct{ msg string }

func (e *noEntry) Error() string        { return e.msg }
func (e *noEntry) Is(target error) bool { return target == ErrNoEntry }
