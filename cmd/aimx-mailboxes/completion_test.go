package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		{"aimx-mailboxes completion ", "bash zsh fish"},
		{"aimx-mailboxes create x --owner roo", "root"},
	}
	args := []string{"-f", "-c", zshCapture, "zsh"}
	for _, tc := range cases {
		args = append(args, tc.line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "zsh", args...)
	cmd.Env = append(os.Environ(), "COMPDIR="+filepath.Dir(path))
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
	for _, tc := range cases {
		if g := strings.Join(got[tc.line], " "); g != tc.want {
			t.Errorf("%q completes to %q, want %q", tc.line, g, tc.want)
		}
	}
}
