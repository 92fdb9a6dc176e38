//go:build integration

package integration

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"

	"golang.org/x/sys/unix"
)

// How long the config lock is held never depends on what a user stored
// (docs/BEHAVIOR.md, Locking): with a million entries in alice's own
// inbox (hard links: no new inodes) and alice looping plain DELETEs,
// which answer NONEMPTY, every CREATE of someone else is answered OK in
// under a second.
func TestHostileLockHoldBounded(t *testing.T) {
	e := newEnv(t, baseConfig)
	if got := e.raw(&alice, aimxtest.Create("hoard", "")); got != aimxtest.OK {
		t.Fatalf("create: %q", got)
	}
	dir, err := unix.Open(e.Path("inbox", "hoard"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, err)
	defer unix.Close(dir)
	const sources, entries = 32, 1_000_000 // ext4 allows 65 000 links to one inode
	for i := 0; i < sources; i++ {
		fd, err := unix.Openat(dir, fmt.Sprintf("s%d.md", i), unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
		must(t, err)
		must(t, unix.Fchown(fd, int(alice.UID), int(alice.GID)))
		unix.Close(fd)
	}
	start := time.Now()
	for i := sources; i < entries; i++ {
		must(t, unix.Linkat(dir, fmt.Sprintf("s%d.md", i%sources), dir, fmt.Sprintf("l%d.md", i), 0))
	}
	t.Logf("%d entries made in %s", entries, time.Since(start).Round(time.Millisecond))

	want := aimxtest.Err("NONEMPTY", "mailbox 'hoard' has at least 10000 files (10000 in inbox, 0 in sent); archive or remove them first")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var deletes atomic.Int64
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := aimxtest.RawAs(rawBin, &alice, nil, e.Sock, aimxtest.Delete("hoard", false), rawTimeout)
				if err != nil || got != want {
					t.Errorf("alice's DELETE: %q %v", got, err)
					return
				}
				deletes.Add(1)
			}
		}()
	}
	for deadline := time.Now().Add(time.Minute); deletes.Load() < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatal("alice's DELETEs were not answered within a minute")
		}
	}
	before := deletes.Load()
	var slowest time.Duration
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("bob-%d", i)
		start := time.Now()
		got, err := aimxtest.Exchange(e.Sock, aimxtest.Create(name, bob.Name), rawTimeout)
		took := time.Since(start)
		slowest = max(slowest, took)
		if err != nil || got != aimxtest.OK {
			t.Errorf("CREATE %s for bob during alice's DELETEs: %q %v", name, got, err)
		}
		if took >= time.Second {
			t.Errorf("CREATE %s for bob took %s during alice's DELETEs, want under 1 s", name, took.Round(time.Millisecond))
		}
	}
	close(stop)
	wg.Wait()
	during := deletes.Load() - before
	if during < 2 {
		t.Errorf("alice's loops made %d DELETEs during the CREATEs: they did not run beside them", during)
	}
	t.Logf("10 CREATEs beside %d of alice's DELETEs: the slowest answered in %s", during, slowest.Round(time.Millisecond))
}
