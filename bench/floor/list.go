//go:build linux && floorlist

package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// before is floor (list)'s step before the answer, with args "CONFIG
// DATA NAME...": what any helper must do for a LIST of the mailboxes
// NAME... of a config at CONFIG that a cache describes, and nothing
// more. It hashes the whole config (SHA-256, in 64 KiB pieces: the proof
// a request needs before it trusts a cache of the config), reads each
// mailbox's inbox/ and sent/ folder to the end, and reads the first 4 KiB
// of each *.md message in the inbox (its read flag). It is told the
// names: it reads no index, looks up no owner, writes no body and logs
// nothing, so its time is a lower bound for that LIST.
func before(args []string) error {
	if len(args) < 2 {
		return errors.New("usage: floor CONFIG DATA NAME... (built with -tags floorlist)")
	}
	if err := hashFile(args[0]); err != nil {
		return err
	}
	buf := make([]byte, 32<<10)
	for _, name := range args[2:] {
		for _, kind := range []string{"inbox", "sent"} {
			if err := readFolder(filepath.Join(args[1], kind, name), kind == "inbox", buf); err != nil {
				return err
			}
		}
	}
	return nil
}

// hashFile is the SHA-256 of the file at path, read in 64 KiB pieces.
func hashFile(path string) error {
	f, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(f)
	h := sha256.New()
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(f, buf)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if n == 0 {
			h.Sum(nil)
			return nil
		}
		h.Write(buf[:n])
	}
}

// readFolder reads folder path to its end and, when messages is set,
// the first 4 KiB of each *.md in it.
func readFolder(path string, messages bool, buf []byte) error {
	d, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(d)
	var names []string
	for {
		n, err := unix.Getdents(d, buf)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if n == 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names[:0])
		if !messages {
			continue
		}
		for _, m := range names {
			if !strings.HasSuffix(m, ".md") {
				continue
			}
			f, err := unix.Openat(d, m, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open %s/%s: %w", path, m, err)
			}
			_, err = unix.Read(f, buf[:4096])
			unix.Close(f)
			if err != nil {
				return fmt.Errorf("read %s/%s: %w", path, m, err)
			}
		}
	}
	return nil
}
