package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/aimx/aimx-mailboxd/mailbox"
	"github.com/aimx/aimx-mailboxd/wire"
	"github.com/aimx/aimx-mailboxd/wire/client"
)

// completionCmd prints a completion script made from the command model
// that parses the command line, so the two never drift: a new command or
// flag is completed as soon as it exists.
type completionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"The shell: bash, zsh or fish."`
}

func (cmd *completionCmd) Run(c *cli, kctx *kong.Context) error {
	m := modelOf(kctx.Model)
	switch cmd.Shell {
	case "bash":
		m.bash(c.stdout)
	case "zsh":
		m.zsh(c.stdout)
	case "fish":
		m.fish(c.stdout)
	}
	return nil
}

// namesCmd prints, one a line, the registered mailboxes that a LIST
// through the socket shows the caller: those they may delete (root: all).
// The completion scripts run it for delete's name. It is quiet: when the
// socket does not answer within a second, or answers anything else, it
// prints nothing and exits 0, and it never runs in-process.
type namesCmd struct{}

// namesTimeout bounds how long a TAB waits for the socket.
const namesTimeout = time.Second

func (cmd *namesCmd) Run(c *cli) error {
	ctx, cancel := context.WithTimeout(context.Background(), namesTimeout)
	defer cancel()
	resp, err := client.Call(ctx, c.Socket, wire.Request{Verb: wire.VerbList})
	if err != nil || resp.Err != nil {
		return nil
	}
	entries, err := wire.DecodeList(resp.Body)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		// A name the rules refuse could be a shell word of anything.
		if e.Registered && mailbox.ValidateName(e.Name) == nil {
			fmt.Fprintln(c.stdout, e.Name)
		}
	}
	return nil
}

// compModel is what a completion script needs of the kong model.
type compModel struct {
	prog  string
	flags []compFlag // global: valid before and after the command
	cmds  []compCmd
}

type compCmd struct {
	name, help string
	flags      []compFlag
	args       []compArg
}

type compFlag struct {
	long  string
	short rune
	help  string
	// value is what the flag takes: "" nothing (a switch), "path" a file,
	// "user" a user name, "enum" one of enum, "text" anything.
	value string
	enum  []string
}

type compArg struct {
	name, help string
	enum       []string
	mailbox    bool // one of the caller's mailbox names (namesCmd)
}

// modelOf walks the kong model: visible commands and flags, and what each
// flag's value is (the "completion" tag names a kind kong does not know).
func modelOf(app *kong.Application) compModel {
	m := compModel{prog: app.Name, flags: flagsOf(app.Node)}
	for _, n := range app.Children {
		if n.Hidden || n.Type != kong.CommandNode {
			continue
		}
		cmd := compCmd{name: n.Name, help: n.Help, flags: flagsOf(n)}
		for _, p := range n.Positional {
			a := compArg{name: p.Name, help: p.Help, mailbox: p.Tag.Get("completion") == "mailbox"}
			if p.Enum != "" {
				a.enum = p.EnumSlice()
			}
			cmd.args = append(cmd.args, a)
		}
		m.cmds = append(m.cmds, cmd)
	}
	// help's first argument is a command.
	for i, c := range m.cmds {
		if c.name == "help" && len(c.args) > 0 {
			for _, o := range m.cmds {
				m.cmds[i].args[0].enum = append(m.cmds[i].args[0].enum, o.name)
			}
		}
	}
	return m
}

func flagsOf(n *kong.Node) []compFlag {
	var out []compFlag
	for _, f := range n.Flags {
		if f.Hidden {
			continue
		}
		cf := compFlag{long: f.Name, short: f.Short, help: f.Help}
		switch {
		case f.IsBool() || f.IsCounter():
		case f.Tag.Type == "path" || f.Tag.Type == "existingfile":
			cf.value = "path"
		case f.Tag.Get("completion") == "user":
			cf.value = "user"
		case f.Enum != "":
			cf.value, cf.enum = "enum", f.EnumSlice()
		default:
			cf.value = "text"
		}
		out = append(out, cf)
	}
	return out
}

// names is the command line that prints the caller's mailbox names,
// with sock (the shell's words for the --socket the line names) before
// the command.
func (m compModel) names(sock string) string {
	return m.prog + " " + sock + " complete-names 2>/dev/null"
}

// valueFlags are the flags, global and of every command, that take a value.
func (m compModel) valueFlags() []compFlag {
	var out []compFlag
	seen := map[string]bool{}
	for _, fs := range append([][]compFlag{m.flags}, m.cmdFlags()...) {
		for _, f := range fs {
			if f.value != "" && !seen[f.long] {
				seen[f.long] = true
				out = append(out, f)
			}
		}
	}
	return out
}

func (m compModel) cmdFlags() [][]compFlag {
	var out [][]compFlag
	for _, c := range m.cmds {
		out = append(out, c.flags)
	}
	return out
}

func (f compFlag) words() []string {
	w := []string{"--" + f.long}
	if f.short != 0 {
		w = append(w, "-"+string(f.short))
	}
	return w
}

// funcName is prog as a shell function name.
func (m compModel) funcName() string {
	return "_" + strings.NewReplacer("-", "_", ".", "_").Replace(m.prog)
}

func (m compModel) bash(w io.Writer) {
	fn := m.funcName()
	fmt.Fprintf(w, "# bash completion for %s                                 -*- shell-script -*-\n", m.prog)
	fmt.Fprintf(w, "# Made by \"%s completion bash\" from the program's own command model.\n\n", m.prog)
	fmt.Fprintf(w, "%s() {\n", fn)
	fmt.Fprint(w, `    local cur prev words cword
    if declare -F _get_comp_words_by_ref >/dev/null; then
        _get_comp_words_by_ref -n = cur prev words cword
    else
        words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
        cur=${words[cword]} prev=${words[cword-1]}
    fi

    # The command, and how many of its arguments are given, skipping
    # flags and the values of flags that take one.
    local cmd= npos=0 skip= i w
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        if [[ -n $skip ]]; then skip=; continue; fi
        case $w in
`)
	var valueWords []string
	for _, f := range m.valueFlags() {
		valueWords = append(valueWords, f.words()...)
	}
	if len(valueWords) > 0 {
		fmt.Fprintf(w, "            %s)\n                [[ ${words[i+1]} == = ]] && ((i++))\n                skip=1 ;;\n", strings.Join(valueWords, "|"))
	}
	fmt.Fprint(w, `            -*) ;;
            *) if [[ -z $cmd ]]; then cmd=$w; else npos=$((npos + 1)); fi ;;
        esac
    done

    # The socket the line names, which delete's names are asked of.
    local sock=()
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --socket) if [[ ${words[i+1]} == = ]]; then sock=(--socket "${words[i+2]}"); else sock=(--socket "${words[i+1]}"); fi ;;
            --socket=*) sock=(--socket "${words[i]#--socket=}") ;;
        esac
    done

    # The value of a flag: --flag VALUE or --flag=VALUE (one word with
    # bash-completion, three without it).
    local flag=$prev value=$cur
    if [[ $cur == --*=* ]]; then
        flag=${cur%%=*} value=${cur#*=}
    elif [[ $prev == = ]]; then
        flag=${words[cword-2]}
    elif [[ $cur == -* ]]; then
        flag=
    fi
    case $flag in
`)
	byKind := map[string][]string{}
	var kinds []string
	for _, f := range m.valueFlags() {
		key := f.value
		if f.value == "enum" {
			key = "enum:" + strings.Join(f.enum, " ")
		}
		if _, ok := byKind[key]; !ok {
			kinds = append(kinds, key)
		}
		byKind[key] = append(byKind[key], f.words()...)
	}
	for _, k := range kinds {
		var action string
		switch {
		case k == "path":
			action = `compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$value"))`
		case k == "user":
			action = `COMPREPLY=($(compgen -u -- "$value"))`
		case strings.HasPrefix(k, "enum:"):
			action = fmt.Sprintf(`COMPREPLY=($(compgen -W %s -- "$value"))`, shQuote(strings.TrimPrefix(k, "enum:")))
		default:
			action = "COMPREPLY=()"
		}
		fmt.Fprintf(w, "        %s)\n            %s\n            return ;;\n", strings.Join(byKind[k], "|"), action)
	}
	fmt.Fprint(w, `    esac

    if [[ $cur == -* ]]; then
`)
	fmt.Fprintf(w, "        local flags=%s\n", shQuote(strings.Join(flagWords(m.flags), " ")))
	fmt.Fprint(w, "        case $cmd in\n")
	for _, c := range m.cmds {
		if len(c.flags) > 0 {
			fmt.Fprintf(w, "            %s) flags+=%s ;;\n", c.name, shQuote(" "+strings.Join(flagWords(c.flags), " ")))
		}
	}
	fmt.Fprint(w, `        esac
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
        return
    fi

    case $cmd in
`)
	var names []string
	for _, c := range m.cmds {
		names = append(names, c.name)
	}
	fmt.Fprintf(w, "        '') COMPREPLY=($(compgen -W %s -- \"$cur\")) ;;\n", shQuote(strings.Join(names, " ")))
	for _, c := range m.cmds {
		for i, a := range c.args {
			switch {
			case a.enum != nil:
				fmt.Fprintf(w, "        %s) ((npos == %d)) && COMPREPLY=($(compgen -W %s -- \"$cur\")) ;;\n", c.name, i, shQuote(strings.Join(a.enum, " ")))
			case a.mailbox:
				fmt.Fprintf(w, "        %s) ((npos == %d)) && COMPREPLY=($(compgen -W \"$(%s)\" -- \"$cur\")) ;;\n", c.name, i, m.names(`"${sock[@]}"`))
			}
		}
	}
	fmt.Fprint(w, "    esac\n}\n")
	fmt.Fprintf(w, "complete -F %s %s\n", fn, m.prog)
}

func flagWords(fs []compFlag) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.words()...)
	}
	return out
}

// shQuote quotes s for sh in single quotes.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (m compModel) zsh(w io.Writer) {
	// The function has the file's name: autoloaded from fpath, the file's
	// body runs as that function, defines it anew and calls it.
	fn := "_" + m.prog
	fmt.Fprintf(w, "#compdef %s\n", m.prog)
	fmt.Fprintf(w, "# zsh completion for %s, made by \"%s completion zsh\" from the program's own command model.\n\n", m.prog, m.prog)
	namesFn := "_" + strings.TrimPrefix(m.funcName(), "_") + "_names"
	// The socket: --socket after the command (this _arguments' opt_args),
	// else before it (sock, kept from the first _arguments).
	fmt.Fprintf(w, "%s() {\n  local -a names expl s=($sock)\n  (( $+opt_args[--socket] )) && s=(--socket ${(Q)opt_args[--socket]})\n"+
		"  names=(${(f)\"$(%s)\"})\n  _wanted mailboxes expl mailbox compadd -a names\n}\n\n", namesFn, m.names(`"${s[@]}"`))
	fmt.Fprintf(w, "%s() {\n", fn)
	fmt.Fprint(w, "  local curcontext=$curcontext state line ret=1\n  typeset -A opt_args\n")
	fmt.Fprint(w, "  local -a commands=(\n")
	for _, c := range m.cmds {
		fmt.Fprintf(w, "    %s\n", shQuote(zshEscape(c.name, ":")+":"+c.help))
	}
	fmt.Fprint(w, "  )\n")
	// -A '-*': no option of the program's after the command word, so that
	// the command's own _arguments parses all that follows it.
	fmt.Fprint(w, "  _arguments -C -S -A '-*' \\\n")
	for _, f := range m.flags {
		fmt.Fprintf(w, "    %s \\\n", zshFlag(f))
	}
	fmt.Fprint(w, "    '1: :->command' \\\n    '*:: :->args' && ret=0\n")
	fmt.Fprint(w, "  local -a sock\n  (( $+opt_args[--socket] )) && sock=(--socket ${(Q)opt_args[--socket]})\n")
	fmt.Fprint(w, "  case $state in\n")
	fmt.Fprint(w, "    command) _describe -t commands 'command' commands && ret=0 ;;\n")
	fmt.Fprint(w, "    args)\n      curcontext=${curcontext%:*:*}:"+m.prog+"-$words[1]:\n      case $words[1] in\n")
	for _, c := range m.cmds {
		fmt.Fprintf(w, "        %s)\n          _arguments -S \\\n", c.name)
		for _, f := range append(append([]compFlag{}, c.flags...), m.flags...) {
			fmt.Fprintf(w, "            %s \\\n", zshFlag(f))
		}
		for _, a := range c.args {
			action := " "
			switch {
			case a.enum != nil:
				action = "(" + strings.Join(a.enum, " ") + ")"
			case a.mailbox:
				action = namesFn
			}
			fmt.Fprintf(w, "            %s \\\n", shQuote(":"+zshEscape(a.name+": "+a.help, ":")+":"+action))
		}
		fmt.Fprint(w, "            && ret=0 ;;\n")
	}
	fmt.Fprint(w, "      esac ;;\n  esac\n  return ret\n}\n\n")
	fmt.Fprintf(w, "if [ \"$funcstack[1]\" = %s ]; then\n  %s \"$@\"\nelse\n  compdef %s %s\nfi\n", fn, fn, fn, m.prog)
}

// zshFlag is the _arguments spec of f: its names, its help in brackets and
// what its value completes to.
func zshFlag(f compFlag) string {
	help := "[" + zshEscape(f.help, "[]:") + "]"
	var action string
	switch f.value {
	case "":
	case "path":
		action = ":" + zshEscape(f.long, ":") + ":_files"
	case "user":
		action = ":" + zshEscape(f.long, ":") + ":_users"
	case "enum":
		action = ":" + zshEscape(f.long, ":") + ":(" + strings.Join(f.enum, " ") + ")"
	default:
		action = ":" + zshEscape(f.long, ":") + ": "
	}
	long := "--" + f.long
	if f.value != "" {
		long += "="
	}
	if f.short == 0 {
		return shQuote(long + help + action)
	}
	short := "-" + string(f.short)
	excl := "(" + short + " --" + f.long + ")"
	return shQuote(excl) + "{" + shQuote(short) + "," + shQuote(long) + "}" + shQuote(help+action)
}

// zshEscape backslash-escapes the characters of special in s, and the
// backslash itself.
func zshEscape(s, special string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '\\' || strings.ContainsRune(special, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (m compModel) fish(w io.Writer) {
	p := m.prog
	fn := "__" + strings.TrimPrefix(m.funcName(), "_")
	fmt.Fprintf(w, "# fish completion for %s, made by \"%s completion fish\" from the program's own command model.\n\n", p, p)
	fmt.Fprintf(w, "# The command given so far, skipping flags and the values of flags that take one.\nfunction %s_command\n", fn)
	fmt.Fprint(w, "    set -l skip 0\n    for t in (commandline -opc)[2..-1]\n")
	fmt.Fprint(w, "        if test $skip = 1\n            set skip 0\n            continue\n        end\n        switch $t\n")
	var valueWords []string
	for _, f := range m.valueFlags() {
		valueWords = append(valueWords, f.words()...)
	}
	if len(valueWords) > 0 {
		fmt.Fprintf(w, "            case %s\n                set skip 1\n", strings.Join(valueWords, " "))
	}
	fmt.Fprint(w, "            case '-*'\n            case '*'\n                echo $t\n                return 0\n        end\n    end\n    return 1\nend\n\n")
	fmt.Fprintf(w, "# The socket the line names, as the words --socket PATH.\nfunction %s_socket\n", fn)
	fmt.Fprint(w, "    set -l words (commandline -opc)\n    for i in (seq 2 (count $words))\n        switch $words[$i]\n")
	fmt.Fprint(w, "            case --socket\n                if test $i -lt (count $words)\n                    echo --socket\n                    echo $words[(math $i + 1)]\n                end\n")
	fmt.Fprint(w, "            case '--socket=*'\n                echo --socket\n                string replace -- --socket= '' $words[$i]\n        end\n    end\nend\n\n")
	fmt.Fprintf(w, "function %s_using\n    set -l cmd (%s_command)\n    and test \"$cmd\" = $argv[1]\nend\n\n", fn, fn)
	fmt.Fprintf(w, "complete -c %s -f\n", p)
	for _, f := range m.flags {
		fmt.Fprintf(w, "complete -c %s%s\n", p, fishFlag(f))
	}
	for _, c := range m.cmds {
		fmt.Fprintf(w, "complete -c %s -n 'not %s_command' -a %s -d %s\n", p, fn, c.name, shQuote(c.help))
	}
	for _, c := range m.cmds {
		for _, f := range c.flags {
			fmt.Fprintf(w, "complete -c %s -n '%s_using %s'%s\n", p, fn, c.name, fishFlag(f))
		}
		for _, a := range c.args {
			switch {
			case a.enum != nil:
				fmt.Fprintf(w, "complete -c %s -n '%s_using %s' -a %s\n", p, fn, c.name, shQuote(strings.Join(a.enum, " ")))
			case a.mailbox:
				// fish itself complains of a command it cannot find.
				fmt.Fprintf(w, "complete -c %s -n '%s_using %s' -a %s\n", p, fn, c.name, shQuote("(command -q "+p+"; and "+m.names("("+fn+"_socket)")+")"))
			}
		}
	}
}

// fishFlag is the complete(1) options for f.
func fishFlag(f compFlag) string {
	s := " -l " + f.long
	if f.short != 0 {
		s += " -s " + string(f.short)
	}
	switch f.value {
	case "path":
		s += " -r -F"
	case "user":
		s += " -x -a '(__fish_complete_users)'"
	case "enum":
		s += " -x -a " + shQuote(strings.Join(f.enum, " "))
	case "text":
		s += " -x"
	}
	return s + " -d " + shQuote(f.help)
}
