package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aimx/aimx-mailboxd/wire"
	"github.com/aimx/aimx-mailboxd/wire/client"
)

// script runs "aimx-mailboxes completion shell" in-process and returns
// the script, written to a file named as the shell wants it.
func completionScript(t *testing.T, shell string) (text, path string) {
	t.Helper()
	code, stdout, stderr := run("completion", shell)
	if code != exitOK || stderr != "" || stdout == "" {
		t.Fatalf("completion %s: exit %d, stderr %q, %d bytes", shell, code, stderr, len(stdout))
	}
	name := map[string]string{"bash": "aimx-mailboxes", "zsh": "_aimx-mailboxes", "fish": "aimx-mailboxes.fish"}[shell]
	path = filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return stdout, path
}

// TestCompletionNamesEverything: each script names every command and
// every flag (long and short) of the model that parses the command line,
// hidden ones aside, and parses in its shell.
func TestCompletionNamesEverything(t *testing.T) {
	m := modelOf((&cli{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}).newParser().Model)
	var words []string
	for _, f := range m.flags {
		words = append(words, f.words()...)
	}
	for _, c := range m.cmds {
		words = append(words, c.name)
		for _, f := range c.flags {
			words = append(words, f.words()...)
		}
	}
	// The model is what we think it is: a new command or flag shows up here.
	if got := strings.Join(words, " "); got != "--help -h --socket --config --data-dir --policy --version "+
		"create --owner delete --force --yes -y list --json doctor --json version mcp completion help" {
		t.Errorf("the model has %s", got)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			text, path := completionScript(t, shell)
			for _, w := range words {
				name := strings.TrimLeft(w, "-")
				var present bool
				switch {
				case shell == "fish" && strings.HasPrefix(w, "--"):
					present = strings.Contains(text, " -l "+name+" ") || strings.Contains(text, " -l "+name+"\n")
				case shell == "fish" && strings.HasPrefix(w, "-"):
					present = strings.Contains(text, " -s "+name+" ")
				default:
					present = strings.Contains(text, w)
				}
				if !present {
					t.Errorf("%s script does not name %s", shell, w)
				}
			}
			if strings.Contains(text, "\x1b") {
				t.Error("escape sequence in the script")
			}
			if _, err := exec.LookPath(shell); err != nil {
				t.Skipf("%s is not installed, the script is not parsed: sudo apt-get install %s", shell, shell)
			}
			if out, err := exec.Command(shell, "-n", path).CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", shell, err, out)
			}
		})
	}
}

// TestCompletionBash completes command lines with the bash script, as
// bash's programmable completion calls it (COMP_WORDS, COMP_CWORD), with
// and without the bash-completion package's helpers.
func TestCompletionBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash: sudo apt-get install bash")
	}
	_, path := completionScript(t, "bash")
	for _, tc := range []struct{ line, want string }{
		{"aimx-mailboxes ", "create delete list doctor version mcp completion help"},
		{"aimx-mailboxes d", "delete doctor"},
		{"aimx-mailboxes --socket /x ", "create delete list doctor version mcp completion help"},
		{"aimx-mailboxes help ", "create delete list doctor version mcp completion help"},
		{"aimx-mailboxes help d", "delete doctor"},
		{"aimx-mailboxes -", "--help -h --socket --config --data-dir --policy --version"},
		{"aimx-mailboxes delete hb --f", "--force"},
		{"aimx-mailboxes delete hb -", "--help -h --socket --config --data-dir --policy --version --force --yes -y"},
		{"aimx-mailboxes list --j", "--json"},
		{"aimx-mailboxes list --socket /x --j", "--json"},
		{"aimx-mailboxes create x --owner roo", "root"},
		{"aimx-mailboxes completion ", "bash zsh fish"},
		{"aimx-mailboxes completion z", "zsh"},
		{"aimx-mailboxes completion bash ", ""},
		{"aimx-mailboxes create ", ""},
		{"aimx-mailboxes --socket DIR/so", "DIR/sock"},
		{"aimx-mailboxes --config=DIR/so", "DIR/sock"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "sock"), nil, 0o644)
			line := strings.ReplaceAll(tc.line, "DIR", dir)
			want := strings.ReplaceAll(tc.want, "DIR", dir)
			// Without bash-completion, bash splits --config=X at the '='.
			words := strings.Split(strings.Replace(line, "=", " = ", 1), " ")
			if !strings.Contains(line, "=") {
				words = strings.Split(line, " ")
			}
			var quoted []string
			for _, w := range words {
				quoted = append(quoted, shQuote(w))
			}
			script := "source " + shQuote(path) + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\n" +
				"COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n_aimx_mailboxes\necho \"${COMPREPLY[*]}\"\n"
			out, err := exec.Command("bash", "--norc", "--noprofile", "-c", script).CombinedOutput()
			if got := strings.TrimSuffix(string(out), "\n"); err != nil || got != want {
				t.Errorf("%q completes to %q (%v), want %q", line, got, err, want)
			}
		})
	}
}

// TestCompletionFish asks fish itself what it completes (complete -C).
func TestCompletionFish(t *testing.T) {
	if _, err := exec.LookPath("fish"); err != nil {
		t.Skip("fish is not installed: sudo apt-get install fish")
	}
	_, path := completionScript(t, "fish")
	for _, tc := range []struct{ line, want string }{
		{"aimx-mailboxes ", "completion create delete doctor help list mcp version"},
		{"aimx-mailboxes help d", "delete doctor"},
		{"aimx-mailboxes --socket /x d", "delete doctor"},
		{"aimx-mailboxes delete hb --f", "--force"},
		{"aimx-mailboxes list --", "--config --data-dir --help --json --policy --socket --version"},
		{"aimx-mailboxes list --socket /x --j", "--json"},
		{"aimx-mailboxes completion ", "bash fish zsh"},
		{"aimx-mailboxes create x --owner roo", "root"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			out, err := exec.Command("fish", "--no-config", "-c", "source "+shQuote(path)+"; complete -C "+shQuote(tc.line)).CombinedOutput()
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				w, _, _ := strings.Cut(l, "\t")
				if w != "" {
					got = append(got, w)
				}
			}
			if err != nil || strings.Join(got, " ") != tc.want {
				t.Errorf("%q completes to %q (%v), want %q", tc.line, got, err, tc.want)
			}
		})
	}
}

// zshCapture prints, for each command line given, "=== LINE" and then
// each match zsh's completion system offers for it, one a line, as TAB
// would: a zsh on a pseudo-terminal (zpty) with compinit and the script
// on fpath, and compadd wrapped to print what it is given (after
// zsh-capture-completion by Valodim). Markers are split in the input
// ("<""m>") so that the echo of the input never looks like output.
const zshCapture = `zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z 'PROMPT=; RPROMPT=; fpath=("$COMPDIR" $fpath); autoload -Uz compinit; compinit -u -D'
zpty -w z 'compadd () { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi; typeset -a __hits; builtin compadd -A __hits "$@"; local r=$?; (( $#__hits )) && print -l -- "<""m>"${^__hits}; return r }'
zpty -w z 'zstyle ":completion:*" list-grouped false; zstyle ":completion:*" insert-tab false; zstyle ":completion:*" list-prompt ""; zstyle ":completion:*" menu no'
zpty -w z 'finish () { print "<""done>"; zle kill-whole-line; }; zle -N finish; bindkey "^X" finish; bindkey "^I" complete-word; print "<""ready>"'
while zpty -r z l; do [[ $l == *'<ready>'* ]] && break; done
for line in "$@"; do
  zpty -w -n z "$line"$'\t\C-x'
  print -r -- "=== $line"
  while zpty -r z l; do
    [[ $l == *'<m>'* ]] && print -r -- "${${l#*<m>}%$'\r'*}"
    [[ $l == *'<done>'* ]] && break
  done
done
zpty -d z
`

// zshComplete returns what zsh's completion system offers for each line,
// with the script at path and env added to the environment.
func zshComplete(t *testing.T, path string, env []string, lines ...string) map[string][]string {
	t.Helper()
	args := []string{"-f", "-c", zshCapture, "zsh"}
	args = append(args, lines...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "zsh", args...)
	cmd.Env = append(append(os.Environ(), "COMPDIR="+filepath.Dir(path)), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("zsh: %v\n%s", err, out)
	}
	got := map[string][]string{}
	var line string
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(l, "=== "); ok {
			line = rest
			got[line] = []string{}
		} else if l != "" {
			got[line] = append(got[line], l)
		}
	}
	return got
}

// TestCompletionZsh asks zsh's own completion system, the first TAB of a
// fresh shell included (the autoloaded function must complete at once,
// not only define itself).
func TestCompletionZsh(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("zsh is not installed: sudo apt-get install zsh")
	}
	_, path := completionScript(t, "zsh")
	cases := []struct{ line, want string }{
		{"aimx-mailboxes ", "create delete list doctor version mcp completion help"},
		{"aimx-mailboxes cr", "create"},
		{"aimx-mailboxes help d", "delete doctor"},
		{"aimx-mailboxes --socket /x li", "list"},
		{"aimx-mailboxes delete hb --f", "--force"},
		{"aimx-mailboxes list --socket /x --j", "--json"},
		{"aimx-mailboxes list --socket=/x --j", "--json"},
		{"aimx-mailboxes completion ", "bash zsh fish"},
		{"aimx-mailboxes create x --owner roo", "root"},
	}
	var lines []string
	for _, tc := range cases {
		lines = append(lines, tc.line)
	}
	got := zshComplete(t, path, nil, lines...)
	for _, tc := range cases {
		if g := strings.Join(got[tc.line], " "); g != tc.want {
			t.Errorf("%q completes to %q, want %q", tc.line, g, tc.want)
		}
	}
}

// namesFixture is a helper serving mailboxes alpha and beta (the caller's;
// run as root, nobody's, and root sees all), an unregistered folder
// loose, and a folder bin holding aimx-mailboxes, the CLI, for the
// completion scripts to run.
func namesFixture(t *testing.T) (h *helper, bin string) {
	t.Helper()
	h = startHelper(t, baseConfig)
	for _, name := range []string{"beta", "alpha"} {
		resp, err := client.Call(context.Background(), h.sock, wire.Request{Verb: wire.VerbCreate, Name: name, Owner: theAgent(t).Name})
		if err != nil || resp.Err != nil {
			t.Fatalf("create %s: %v %v", name, err, resp.Err)
		}
	}
	if err := os.Mkdir(filepath.Join(h.data, "inbox", "loose"), 0o700); err != nil {
		t.Fatal(err)
	}
	bin = t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "aimx-mailboxes"), []byte("#!/bin/sh\n"+mainEnv+"=1 exec "+shQuote(agentBin)+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return h, bin
}

// TestCompleteNames: complete-names prints the registered mailboxes a LIST
// shows the caller, one a line; whatever goes wrong, it prints nothing and
// exits 0, within its second.
func TestCompleteNames(t *testing.T) {
	h, _ := namesFixture(t)
	if code, stdout, stderr := run("--socket", h.sock, "complete-names"); code != exitOK || stdout != "alpha\nbeta\n" || stderr != "" {
		t.Errorf("complete-names: exit %d, stdout %q, stderr %q; want 0 and \"alpha\\nbeta\\n\"", code, stdout, stderr)
	}

	dir := t.TempDir()
	silent := filepath.Join(dir, "silent.sock")
	ln, err := net.Listen("unix", silent)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // never answers
		}
	}()
	broken := startHelper(t, "domain = \n") // every LIST is answered IO
	for _, sock := range []string{filepath.Join(dir, "missing.sock"), silent, broken.sock} {
		start := time.Now()
		code, stdout, stderr := run("--socket", sock, "complete-names")
		if code != exitOK || stdout != "" || stderr != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 0 and nothing", sock, code, stdout, stderr)
		}
		if d := time.Since(start); d > 10*namesTimeout {
			t.Errorf("%s: took %v, want at most about %v", sock, d, namesTimeout)
		}
	}
}

// TestCompletionDeleteNames: in bash, zsh and fish, delete's name
// completes to the caller's mailboxes, from a LIST through the socket;
// with the socket down or no aimx-mailboxes on PATH, to nothing, quietly.
// A --socket on the line is the socket asked.
func TestCompletionDeleteNames(t *testing.T) {
	h, bin := namesFixture(t)
	up := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "AIMX_MAILBOXD_SOCKET=" + h.sock}
	down := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "AIMX_MAILBOXD_SOCKET=" + filepath.Join(t.TempDir(), "missing.sock")}
	gone := []string{"PATH=/usr/bin:/bin", "AIMX_MAILBOXD_SOCKET=" + h.sock} // no aimx-mailboxes to run
	cases := []struct {
		env        []string
		line, want string
	}{
		{up, "aimx-mailboxes delete ", "alpha beta"},
		{up, "aimx-mailboxes delete a", "alpha"},
		{up, "aimx-mailboxes delete --force ", "alpha beta"},
		{up, "aimx-mailboxes create ", ""},
		{down, "aimx-mailboxes delete ", ""},
		{gone, "aimx-mailboxes delete ", ""},
		// The socket the line names beats the environment's.
		{down, "aimx-mailboxes --socket " + h.sock + " delete ", "alpha beta"},
		{down, "aimx-mailboxes delete --socket " + h.sock + " b", "beta"},
		{down, "aimx-mailboxes --socket=" + h.sock + " delete a", "alpha"},
	}
	t.Run("bash", func(t *testing.T) {
		if _, err := exec.LookPath("bash"); err != nil {
			t.Skip("bash is not installed: sudo apt-get install bash")
		}
		_, path := completionScript(t, "bash")
		for _, tc := range cases {
			var quoted []string
			for _, w := range strings.Split(tc.line, " ") {
				quoted = append(quoted, shQuote(w))
			}
			script := "source " + shQuote(path) + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\n" +
				"COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n_aimx_mailboxes\necho \"${COMPREPLY[*]}\"\n"
			cmd := exec.Command("bash", "--norc", "--noprofile", "-c", script)
			cmd.Env = append(os.Environ(), tc.env...)
			out, err := cmd.CombinedOutput()
			if got := strings.TrimSuffix(string(out), "\n"); err != nil || got != tc.want {
				t.Errorf("%q (%s) completes to %q (%v), want %q", tc.line, tc.env[1], got, err, tc.want)
			}
		}
	})
	t.Run("zsh", func(t *testing.T) {
		if _, err := exec.LookPath("zsh"); err != nil {
			t.Skip("zsh is not installed: sudo apt-get install zsh")
		}
		_, path := completionScript(t, "zsh")
		for _, tc := range cases {
			got := zshComplete(t, path, tc.env, tc.line)
			if g := strings.Join(got[tc.line], " "); g != tc.want {
				t.Errorf("%q (%s) completes to %q, want %q", tc.line, tc.env[1], g, tc.want)
			}
		}
	})
	t.Run("fish", func(t *testing.T) {
		if _, err := exec.LookPath("fish"); err != nil {
			t.Skip("fish is not installed: sudo apt-get install fish")
		}
		_, path := completionScript(t, "fish")
		for _, tc := range cases {
			cmd := exec.Command("fish", "--no-config", "-c", "source "+shQuote(path)+"; complete -C "+shQuote(tc.line))
			cmd.Env = append(os.Environ(), tc.env...)
			out, err := cmd.CombinedOutput()
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if w, _, _ := strings.Cut(l, "\t"); w != "" {
					got = append(got, w)
				}
			}
			if err != nil || strings.Join(got, " ") != tc.want {
				t.Errorf("%q (%s) completes to %q (%v), want %q", tc.line, tc.env[1], got, err, tc.want)
			}
		}
	})
}
