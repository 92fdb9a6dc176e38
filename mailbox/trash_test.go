package mailbox

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestTrashName: a forced DELETE sets each folder aside as
// .trash/<name>.<16 hex digits> (the fault suite recognises set-aside
// folders by that form), a fresh name each time.
func TestTrashName(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	form := regexp.MustCompile(`^gone\.[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for range 20 {
		if err := create(t, s, "gone"); err != nil {
			t.Fatal(err)
		}
		tx, err := s.Lock()
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Delete("gone", true); err != nil {
			t.Fatal(err)
		}
		tx.Close()
		for _, kind := range []string{Inbox, Sent} {
			names, err := os.ReadDir(filepath.Join(s.DataDir, kind, Trash))
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				if !form.MatchString(n.Name()) {
					t.Errorf("%s/%s/%s does not have the form gone.<16 hex digits>", kind, Trash, n.Name())
				}
				seen[kind+"/"+n.Name()] = true
			}
		}
	}
	if len(seen) != 40 {
		t.Errorf("%d set-aside names for 20 forced DELETEs of two folders, want 40 distinct", len(seen))
	}
}
