//go:build faults

package faults

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
)

// snapshot maps every path under the sandbox (relative) to its type,
// mode, owner and content (a symlink: its target); temporary config
// files are listed apart.
type snapshot struct {
	entries map[string]string
	temps   []string
}

var tempName = regexp.MustCompile(`^\.config\.toml\.tmp-`)

func takeSnapshot(root string) snapshot {
	s := snapshot{entries: map[string]string{}}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		if err != nil {
			s.entries[rel] = "error " + err.Error()
			return nil
		}
		if tempName.MatchString(d.Name()) {
			s.temps = append(s.temps, rel)
			return nil
		}
		if d.Name() == indexName || d.Name() == foldersName {
			// Caches a request trusts only when they describe the config's
			// exact bytes (mailbox.Store.IndexPath, FoldersPath): what a
			// crash leaves of them is rebuilt, never believed. The
			// invariants are about the config itself.
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			s.entries[rel] = "error " + err.Error()
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%s %d:%d", fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			desc += fmt.Sprintf(" %x", sha256.Sum256(b))
		case fi.Mode()&fs.ModeSymlink != 0:
			// Symlinks into the sandbox name its root as $ROOT, so
			// that two sandboxes compare equal.
			target, _ := os.Readlink(p)
			if target == root || strings.HasPrefix(target, root+"/") {
				target = "$ROOT" + strings.TrimPrefix(target, root)
			}
			desc += " -> " + target
		}
		s.entries[rel] = desc
		return nil
	})
	return s
}

// diff lists the paths whose entries differ, except those skip accepts.
// An empty trash folder (inbox/.trash, sent/.trash) on one side only is
// no difference: it holds nothing, and LIST never shows it; one that
// holds anything, or differs in mode or owner, is.
func (s snapshot) diff(o snapshot, skip func(rel string) bool) []string {
	var out []string
	for rel, v := range s.entries {
		if skip != nil && skip(rel) {
			continue
		}
		if w, ok := o.entries[rel]; !ok {
			if !s.emptyTrash(rel) {
				out = append(out, rel+" gone")
			}
		} else if w != v {
			out = append(out, fmt.Sprintf("%s changed: %s -> %s", rel, v, w))
		}
	}
	for rel := range o.entries {
		if _, ok := s.entries[rel]; !ok && (skip == nil || !skip(rel)) && !o.emptyTrash(rel) {
			out = append(out, rel+" appeared")
		}
	}
	sort.Strings(out)
	return out
}

// indexName is the config's checked index beside it.
const indexName = ".config.toml.index"

// foldersName is the folders cache beside it.
const foldersName = ".config.toml.folders"

// trashName is the folder a forced DELETE sets a mailbox's folders aside
// in (mailbox.Trash), inside inbox/ and sent/.
const trashName = ".trash"

// emptyTrash reports whether rel is a trash folder with nothing in it.
func (s snapshot) emptyTrash(rel string) bool {
	if filepath.Base(rel) != trashName || !strings.HasPrefix(s.entries[rel], "d") {
		return false
	}
	return len(s.setAside(rel)) == 0
}

// setAside lists what the trash folder trash holds, at any depth.
func (s snapshot) setAside(trash string) []string {
	var out []string
	for rel := range s.entries {
		if strings.HasPrefix(rel, trash+"/") {
			out = append(out, rel)
		}
	}
	sort.Strings(out)
	return out
}
