//go:build linux

package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

// make bench-aimx's LIST at 10 000 mailboxes (docs/PERFORMANCE.md): root's
// LIST and the LIST of a user who owns 32 of them, AIMX's daemon, the
// helper and the floor alternating request by request, all three on one
// data dir; the user's LISTs alternate with floor (list)'s too.

const (
	listMailboxes = 10000
	listEvery     = 10 // every tenth mailbox holds listMessages
	listMessages  = 3
	listOwned     = 32       // the bench user's mailboxes, spread evenly
	listOther     = "daemon" // everyone else's owner: an account every Debian has
	listStep      = "lists"  // the step that LISTs as the bench user
)

// listConfig is the config of the LIST rows.
func listConfig() string {
	var b strings.Builder
	b.WriteString(baseConfig)
	for i := 0; i < listMailboxes; i++ {
		b.WriteString(aimxtest.StanzaIn(benchDomain, fmt.Sprintf("pre%05d", i), listOwner(i)))
	}
	return b.String()
}

// listOwner is the owner of mailbox i.
func listOwner(i int) string {
	if i%(listMailboxes/listOwned) == 0 && i/(listMailboxes/listOwned) < listOwned {
		return benchUser
	}
	return listOther
}

// listData makes data/inbox/<name> and data/sent/<name> for every
// mailbox (the bench user's are his, as a CREATE leaves them) and
// listMessages messages, one of them read, in every listEvery-th inbox.
func listData(data string, u aimxtest.User) error {
	for i := 0; i < listMailboxes; i++ {
		name := fmt.Sprintf("pre%05d", i)
		for _, kind := range []string{"inbox", "sent"} {
			p := filepath.Join(data, kind, name)
			if err := os.MkdirAll(p, 0o700); err != nil {
				return err
			}
			if listOwner(i) == benchUser {
				if err := os.Chown(p, int(u.UID), int(u.GID)); err != nil {
					return err
				}
			}
		}
		if i%listEvery != 0 {
			continue
		}
		for m := 0; m < listMessages; m++ {
			msg := fmt.Sprintf("+++\nid = \"m%d\"\nfrom = \"someone@example.com\"\nsubject = \"hello\"\nread = %v\n+++\n\nbody\n", m, m == 0)
			if err := os.WriteFile(filepath.Join(data, "inbox", name, fmt.Sprintf("2026-01-0%d-m%d.md", m+1, m)), []byte(msg), 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

// listScale is what the LIST rows measured.
type listScale struct {
	root, user series
	userFloor  []time.Duration // floor (list)'s answers to the user
	rootLen    [3]int          // body bytes of each target's root answer
	userLen    [3]int          // entries in each target's answer to the user
	peak       int64           // the helper's peak RSS (KiB) for root's LIST
	made       time.Duration
}

// measureList runs the LIST rows.
func (b *bench) measureList(keys *string) (*listScale, error) {
	u, err := aimxtest.LookupUser(benchUser)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "aimx-bench-list-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	r := &listScale{}
	data := filepath.Join(dir, "data")
	start := time.Now()
	if err := listData(data, u); err != nil {
		return nil, err
	}
	r.made = time.Since(start)
	text := listConfig()
	// One sandbox each (config, socket), all three on data.
	on := func() (*aimxtest.Sandbox, error) {
		sb, err := sandbox(text)
		if err == nil {
			sb.Data = data
		}
		return sb, err
	}
	sa, err := on()
	if err != nil {
		return nil, err
	}
	aimx, err := b.startAIMX(sa, keys)
	if err != nil {
		os.RemoveAll(sa.Dir)
		return nil, err
	}
	defer func() { aimx.stop(); os.RemoveAll(sa.Dir) }()
	so, err := on()
	if err != nil {
		return nil, err
	}
	stopO, err := serve(so, true, b.cfg.helper)
	if err != nil {
		return nil, err
	}
	defer stopO()
	ours := &target{name: "aimx-mailboxd", sock: so.Sock}
	sf, stopF, err := serveNew(baseConfig, false, b.cfg.floor)
	if err != nil {
		return nil, err
	}
	defer stopF()
	three := []*target{aimx, ours, {name: "floor", sock: sf.Sock}}
	// Floor (list), for the user's LISTs: told his mailboxes, it hashes
	// ours's copy of the config and reads his folders.
	sl, err := sandbox(baseConfig)
	if err != nil {
		return nil, err
	}
	argv := []string{b.cfg.floorList, so.Config, data}
	for i := 0; i < listMailboxes; i++ {
		if listOwner(i) == benchUser {
			argv = append(argv, fmt.Sprintf("pre%05d", i))
		}
	}
	actL, err := aimxtest.Activate(sl.Sock, argv...)
	if err != nil {
		os.RemoveAll(sl.Dir)
		return nil, err
	}
	defer func() { actL.Stop(); os.RemoveAll(sl.Dir) }()

	// Our CREATE and DELETE of one mailbox write the checked index, as
	// any edit through the helper leaves it; then one untimed LIST each.
	ask(ours, aimxtest.Create("warm", benchUser), aimxtest.OK, &err)
	ask(ours, aimxtest.Delete("warm", false), aimxtest.OK, &err)
	for k, t := range three {
		_, resp := request(t.sock, aimxtest.List)
		if !strings.HasPrefix(resp, "AIMX/1 OK") {
			return nil, fmt.Errorf("%s answered %.200q to root's LIST", t.name, resp)
		}
		r.rootLen[k] = len(resp)
	}
	if err != nil {
		return nil, err
	}
	for i := 0; i < b.cfg.listRoot && err == nil; i++ {
		for _, k := range rand.Perm(3) {
			r.root.add(k, ask(three[k], aimxtest.List, "AIMX/1 OK", &err))
		}
	}
	if err != nil {
		return nil, err
	}
	logf("compare: root's LIST at %d mailboxes done after %s", listMailboxes, time.Since(b.start).Round(time.Second))

	// The bench user's LISTs, from a copy of this program running as him.
	bin, err := aimxtest.CopySelf(dir)
	if err != nil {
		return nil, err
	}
	cmd := aimxtest.ChildCmd(bin, &u, nil, listStep, strconv.Itoa(b.cfg.listUser), aimx.sock, ours.sock, sf.Sock, sl.Sock)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("LIST as %s: %v", u.Name, err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var k, n int
		var ns int64
		if _, err := fmt.Sscan(l, &k, &ns, &n); err != nil || k < 0 || k > 3 {
			return nil, fmt.Errorf("LIST as %s: line %q", u.Name, l)
		}
		if k == 3 {
			r.userFloor = append(r.userFloor, time.Duration(ns))
			continue
		}
		r.user.add(k, time.Duration(ns))
		r.userLen[k] = n
	}
	for k, want := range []int{listOwned, listOwned} {
		if r.userLen[k] != want {
			return nil, fmt.Errorf("%s listed %d mailboxes to %s; want %d", three[k].name, r.userLen[k], u.Name, want)
		}
	}
	logf("compare: %s's LIST at %d mailboxes done after %s", u.Name, listMailboxes, time.Since(b.start).Round(time.Second))

	// The helper's peak memory for root's LIST, through rsswrap.
	sm, err := on()
	if err != nil {
		return nil, err
	}
	stopM, err := serve(sm, true, b.cfg.wrap, rssLog(sm), b.cfg.helper)
	if err != nil {
		return nil, err
	}
	ask(&target{name: "aimx-mailboxd", sock: sm.Sock}, aimxtest.List, "AIMX/1 OK", &err)
	_, r.peak = waitRSS(rssLog(sm), 1)
	stopM()
	return r, err
}

// lists is the step run as the bench user: ROUNDS then the sockets to
// LIST through (make bench-aimx: AIMX's, ours and the floor's); each
// round LISTs once on each, in a random order. One line per LIST: the
// socket's position, the nanoseconds, and how many entries the answer
// holds.
func lists(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "lists: want ROUNDS SOCKET...")
		return 2
	}
	rounds, _ := strconv.Atoi(args[0])
	socks := args[1:]
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for i := 0; i < rounds; i++ {
		for _, k := range rand.Perm(len(socks)) {
			d, resp := request(socks[k], aimxtest.List)
			if !strings.HasPrefix(resp, "AIMX/1 OK") {
				fmt.Fprintf(os.Stderr, "lists: %s answered %.200q\n", socks[k], resp)
				return 1
			}
			fmt.Fprintf(w, "%d %d %d\n", k, d.Nanoseconds(), strings.Count(resp, `"registered":`))
		}
	}
	return 0
}
