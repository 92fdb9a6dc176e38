package rawio

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("x", 100_000)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	data, st, err := ReadFile(unix.AT_FDCWD, filepath.Join(dir, "f"), 0)
	if err != nil || string(data) != big || st.Size != int64(len(big)) {
		t.Fatalf("ReadFile: %d bytes, size %d, %v; want %d bytes", len(data), st.Size, err, len(big))
	}
	if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if data, _, err := ReadFile(unix.AT_FDCWD, filepath.Join(dir, "empty"), 0); err != nil || len(data) != 0 {
		t.Errorf("empty file: %q, %v", data, err)
	}
	// A file whose fstat size is 0 but that reads more (procfs) is read
	// to its end all the same.
	if data, _, err := ReadFile(unix.AT_FDCWD, "/proc/self/status", 0); err != nil || !strings.Contains(string(data), "\nUid:") {
		t.Errorf("/proc/self/status: %d bytes, %v", len(data), err)
	}
	if _, _, err := ReadFile(unix.AT_FDCWD, filepath.Join(dir, "missing"), 0); !errors.Is(err, unix.ENOENT) {
		t.Errorf("missing file: %v, want ENOENT", err)
	}
	if _, _, err := ReadFile(unix.AT_FDCWD, dir, 0); err != ErrNotRegular {
		t.Errorf("folder: %v, want ErrNotRegular", err)
	}
	// A FIFO is not read (it would block); O_NONBLOCK lets the open
	// itself return.
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadFile(unix.AT_FDCWD, filepath.Join(dir, "fifo"), unix.O_NONBLOCK); err != ErrNotRegular {
		t.Errorf("FIFO: %v, want ErrNotRegular", err)
	}
	// Relative to a folder descriptor, without following a symlink.
	if err := os.Symlink("f", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	fd, err := OpenDir(unix.AT_FDCWD, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if data, _, err := ReadFile(fd, "f", unix.O_NOFOLLOW); err != nil || len(data) != len(big) {
		t.Errorf("f relative to its folder: %d bytes, %v", len(data), err)
	}
	if _, _, err := ReadFile(fd, "link", unix.O_NOFOLLOW); !errors.Is(err, unix.ELOOP) {
		t.Errorf("symlink with O_NOFOLLOW: %v, want ELOOP", err)
	}
}

// TestReadPieces: every byte once, in order, through a buffer smaller
// than the file, and refused where ReadFile refuses.
func TestReadPieces(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("0123456789", 10_001)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []byte
	pieces := 0
	err := ReadPieces(unix.AT_FDCWD, filepath.Join(dir, "f"), 0, make([]byte, 4096), func(b []byte) {
		got = append(got, b...)
		pieces++
	})
	if err != nil || string(got) != big || pieces != (len(big)+4095)/4096 {
		t.Errorf("ReadPieces: %d bytes in %d pieces, %v; want %d bytes in %d", len(got), pieces, err, len(big), (len(big)+4095)/4096)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	none := func([]byte) { t.Error("a piece of a file that must not be read") }
	for name, want := range map[string]error{"fifo": ErrNotRegular, ".": ErrNotRegular, "missing": unix.ENOENT} {
		if err := ReadPieces(unix.AT_FDCWD, filepath.Join(dir, name), unix.O_NONBLOCK, make([]byte, 16), none); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
}

func TestOpenDirNoFollow(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("d", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	fd, err := OpenDir(unix.AT_FDCWD, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := OpenDir(fd, "link", true); err == nil {
		t.Error("OpenDir followed a symlink with nofollow")
	}
	l, err := OpenDir(fd, "link", false)
	if err != nil {
		t.Fatalf("OpenDir without nofollow: %v", err)
	}
	unix.Close(l)
}

func TestReadDir(t *testing.T) {
	dir := t.TempDir()
	var want []string
	// Enough long names to need several getdents batches.
	for i := range 300 {
		name := strings.Repeat(string(rune('a'+i%26)), 1+i%200) + "-" + string(rune('0'+i%10)) + strings.Repeat("z", i/26)
		if slices.Contains(want, name) {
			continue
		}
		want = append(want, name)
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	want = append(want, "sub")
	fd, err := OpenDir(unix.AT_FDCWD, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	entries, err := ReadDir(fd)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name)
		if e.Name == "sub" && e.Type != unix.DT_DIR && e.Type != unix.DT_UNKNOWN {
			t.Errorf("sub: type %d, want DT_DIR", e.Type)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ReadDir: %d names, want %d (no . or ..)", len(got), len(want))
	}
}

func TestIsEmptyDir(t *testing.T) {
	dir := t.TempDir()
	fd, err := OpenDir(unix.AT_FDCWD, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if empty, err := IsEmptyDir(fd); !empty || err != nil {
		t.Errorf("empty folder: %v, %v", empty, err)
	}
	unix.Close(fd)
	if err := os.WriteFile(filepath.Join(dir, strings.Repeat("n", 255)), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err = OpenDir(unix.AT_FDCWD, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if empty, err := IsEmptyDir(fd); empty || err != nil {
		t.Errorf("folder with one long name: %v, %v", empty, err)
	}
}

// TestWriteAll: pieces, empty ones among them and more than one writev
// takes, land one after the other; the caller's pieces are not cut.
func TestWriteAll(t *testing.T) {
	var pieces [][]byte
	for i := range 2500 {
		pieces = append(pieces, []byte(strings.Repeat(string(rune('a'+i%26)), i%7)))
	}
	want := slices.Concat(pieces...)
	kept := slices.Clone(pieces)
	path := filepath.Join(t.TempDir(), "f")
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	n, err := WriteAll(fd, pieces...)
	unix.Close(fd)
	got, _ := os.ReadFile(path)
	if err != nil || n != len(want) || string(got) != string(want) {
		t.Fatalf("WriteAll: %d bytes, %v; file has %d bytes, want %d", n, err, len(got), len(want))
	}
	for i := range pieces {
		if string(pieces[i]) != string(kept[i]) {
			t.Fatalf("piece %d changed", i)
		}
	}
	if _, err := WriteAll(-1, []byte("x")); !errors.Is(err, unix.EBADF) {
		t.Errorf("bad descriptor: %v, want EBADF", err)
	}
	if n, err := WriteAll(-1); n != 0 || err != nil {
		t.Errorf("no pieces: %d, %v", n, err)
	}
}
