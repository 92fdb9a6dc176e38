package passwd

import (
	"errors"
	"fmt"
	"os/user"
	"testing"
)

func TestLookup(t *testing.T) {
	if u, err := LookupUID(0); err != nil || u != (User{Name: "root"}) {
		t.Errorf("uid 0: %+v, %v", u, err)
	}
	// Find a uid with no passwd entry.
	uid := uint32(4_000_000_000)
	for ; ; uid++ {
		if _, err := user.LookupId(fmt.Sprint(uid)); err != nil {
			break
		}
	}
	_, err := LookupUID(uid)
	if err == nil || err.Error() != fmt.Sprintf("uid %d has no passwd entry", uid) || !errors.Is(err, ErrNoEntry) {
		t.Errorf("unknown uid: %v", err)
	}
	if _, err := LookupName("no-such-user-aimx"); err == nil || err.Error() != "user 'no-such-user-aimx' has no passwd entry" || !errors.Is(err, ErrNoEntry) {
		t.Errorf("unknown name: %v", err)
	}
	if u, err := LookupName("root"); err != nil || u != (User{Name: "root"}) {
		t.Errorf("root: %+v, %v", u, err)
	}
}
