package pkgmgr

import (
	"path"
	"strings"
)

// unwrap takes wrapper programs off the front of a command line
// (env, sudo, gosu, command, exec, time, nice, nohup, timeout, stdbuf,
// eatmydata), applying what they do to the environment and the user.
// ok=false: the words don't run a command we can name (`command -v x`,
// `env -S …`, unknown words where an option should be).
func unwrap(cmd *command, words []word) ([]word, bool) {
	for len(words) > 0 && words[0].known {
		var rest []word
		var ok bool
		switch path.Base(words[0].val) {
		case "env":
			rest, ok = unwrapEnv(cmd, words[1:])
		case "sudo":
			rest, ok = unwrapSudo(cmd, words[1:])
		case "gosu", "su-exec":
			if len(words) < 2 || !words[1].known {
				return nil, false
			}
			cmd.user = parseUser(words[1].val)
			setHome(cmd.env, cmd.user) // both set HOME from the target's passwd entry
			rest, ok = words[2:], true
		case "command":
			rest, ok = skipOptions(words[1:], "", nil)
			for _, o := range words[1 : len(words)-len(rest)] {
				if strings.ContainsAny(o.val, "vV") {
					return nil, false // command -v: a lookup, not a run
				}
			}
		case "exec":
			rest, ok = skipOptions(words[1:], "a", nil)
		case "time":
			rest, ok = skipOptions(words[1:], "fo", []string{"--format", "--output"})
		case "nice":
			rest, ok = skipOptions(words[1:], "n", []string{"--adjustment"})
		case "nohup", "eatmydata":
			rest, ok = skipOptions(words[1:], "", nil)
		case "stdbuf":
			rest, ok = skipOptions(words[1:], "ioe", []string{"--input", "--output", "--error"})
		case "timeout":
			rest, ok = skipOptions(words[1:], "sk", []string{"--signal", "--kill-after"})
			if ok && len(rest) > 0 {
				rest = rest[1:] // the duration
			}
		default:
			return words, true
		}
		if !ok {
			return nil, false
		}
		words = rest
	}
	return words, len(words) > 0
}

// skipOptions skips leading options. valued lists the short options that
// take an argument (attached or next), long the long ones (--x=v or --x v).
func skipOptions(words []word, valued string, long []string) ([]word, bool) {
	for len(words) > 0 {
		a := words[0]
		if !a.known {
			return nil, false
		}
		v := a.val
		switch {
		case v == "--":
			return words[1:], true
		case strings.HasPrefix(v, "--"):
			n := 1
			for _, l := range long {
				if v == l {
					n = 2
				}
			}
			if n > len(words) {
				return nil, false
			}
			words = words[n:]
		case len(v) > 1 && v[0] == '-':
			n := 1
			for i := 1; i < len(v); i++ {
				if strings.IndexByte(valued, v[i]) >= 0 {
					if i == len(v)-1 {
						n = 2
					}
					break
				}
			}
			if n > len(words) {
				return nil, false
			}
			words = words[n:]
		default:
			return words, true
		}
	}
	return words, true
}

// assignWord reports whether an argument reads NAME=value (env, sudo).
func assignWord(w word) (name, val string, ok bool) {
	text := w.val
	if !w.known {
		text = w.prefix
	}
	name, val, ok = strings.Cut(text, "=")
	return name, val, ok && validName(name)
}

// takeAssigns consumes NAME=value words into the command's environment.
func takeAssigns(cmd *command, words []word) []word {
	for len(words) > 0 {
		name, val, ok := assignWord(words[0])
		if !ok {
			break
		}
		site := &assignSite{name: name, raw: words[0].raw, del: wordDel(words[0])}
		cmd.inline = append(cmd.inline, site)
		cmd.env[name] = value{val: val, known: words[0].known && !words[0].glob, exported: true, site: site}
		words = words[1:]
	}
	return words
}

func unwrapEnv(cmd *command, words []word) ([]word, bool) {
	for len(words) > 0 {
		a := words[0]
		if !a.known {
			return nil, false
		}
		v := a.val
		n := 1
		switch {
		case v == "--":
			words = words[1:]
			return takeAssigns(cmd, words), true
		case v == "-" || v == "-i" || v == "--ignore-environment":
			cmd.env = vars{}
		case v == "-u" || v == "--unset":
			if len(words) < 2 {
				return nil, false
			}
			delete(cmd.env, words[1].val)
			n = 2
		case strings.HasPrefix(v, "--unset="):
			delete(cmd.env, strings.TrimPrefix(v, "--unset="))
		case strings.HasPrefix(v, "-u"):
			delete(cmd.env, v[2:])
		case v == "-C" || v == "--chdir":
			cmd.cwd, n = "", 2
		case strings.HasPrefix(v, "-C") || strings.HasPrefix(v, "--chdir="):
			cmd.cwd = ""
		case strings.HasPrefix(v, "-S") || strings.HasPrefix(v, "--split-string"):
			return nil, false // a command line packed in one string
		case len(v) > 1 && v[0] == '-':
			if strings.Contains(v, "i") && !strings.HasPrefix(v, "--") {
				cmd.env = vars{}
			}
		default:
			return takeAssigns(cmd, words), true
		}
		if n > len(words) {
			return nil, false
		}
		words = words[n:]
	}
	return nil, true // bare `env` prints the environment
}

// sudoValued are sudo's short options that take an argument.
const sudoValued = "CDghpRrTtUu"

var sudoLongValued = map[string]bool{
	"--chdir": true, "--chroot": true, "--close-from": true, "--command-timeout": true, "--group": true,
	"--host": true, "--other-user": true, "--prompt": true, "--role": true, "--type": true, "--user": true,
}

func unwrapSudo(cmd *command, words []word) ([]word, bool) {
	target := "root"
	preserve := false
	for len(words) > 0 {
		a := words[0]
		if !a.known {
			return nil, false
		}
		v := a.val
		if v == "--" {
			words = words[1:]
			break
		}
		if len(v) < 2 || v[0] != '-' {
			break
		}
		n := 1
		if strings.HasPrefix(v, "--") {
			name, val, hasVal := strings.Cut(v, "=")
			switch {
			case name == "--preserve-env":
				preserve = true
			case name == "--user" && hasVal:
				target = val
			case sudoLongValued[name] && !hasVal:
				if len(words) < 2 {
					return nil, false
				}
				if name == "--user" {
					target = words[1].val
				}
				n = 2
			}
		} else {
			for i := 1; i < len(v); i++ {
				c := v[i]
				if c == 'E' {
					preserve = true
				}
				if strings.IndexByte(sudoValued, c) < 0 {
					continue
				}
				val := v[i+1:]
				if val == "" {
					if len(words) < 2 {
						return nil, false
					}
					val, n = words[1].val, 2
				}
				if c == 'u' {
					target = val
				}
				break
			}
		}
		words = words[n:]
	}
	cmd.user = parseUser(strings.TrimPrefix(target, "#"))
	if !preserve {
		cmd.env = vars{} // env_reset: a fresh environment
	}
	setHome(cmd.env, cmd.user)
	return takeAssigns(cmd, words), true
}

// setHome makes HOME what a program switching to u gets: its passwd home,
// which we know for root only.
func setHome(env vars, u user) {
	if u.kind == rootUser {
		env["HOME"] = value{val: "/root", known: true, exported: true}
		return
	}
	delete(env, "HOME")
}

// goEnv tracks `go env -w K=V` / `go env -u K`: later go commands read them
// from the go env file, below the process environment.
func (w *walker) goEnv(cmd *command, st *state) {
	if cmd.name != "go" || len(cmd.argv) < 3 || cmd.argv[1].val != "env" {
		return
	}
	mode := ""
	for _, a := range cmd.argv[2:] {
		switch {
		case a.val == "-w" || a.val == "-u":
			mode = a.val
		case strings.HasPrefix(a.val, "-"):
		case mode == "-w":
			if name, val, ok := assignWord(a); ok {
				st.goenv[name] = value{val: val, known: a.known && !a.glob, exported: true}
			}
		case mode == "-u":
			delete(st.goenv, a.val)
		}
	}
}

// text is what we know of a word: its value, or the part before the first
// expansion we could not resolve.
func (w word) text() string {
	if w.known {
		return w.val
	}
	return w.prefix
}

// flagAt reads an option with a value at argv[i]: `long=v`, `long v`, and
// when short is set `short v` or (attached) `shortv`. n is how many words
// it takes (0: argv[i] isn't that option); known reports an exact value.
func flagAt(argv []word, i int, long, short string, attached bool) (val string, n int, known bool) {
	t := argv[i].text()
	switch {
	case t == long || (short != "" && t == short):
		if !argv[i].known || i+1 >= len(argv) {
			return "", 1, false
		}
		return argv[i+1].val, 2, argv[i+1].known && !argv[i+1].glob
	case long != "" && strings.HasPrefix(t, long+"="):
		return strings.TrimPrefix(argv[i].val, long+"="), 1, argv[i].known && !argv[i].glob
	case attached && short != "" && strings.HasPrefix(t, short) && len(t) > len(short):
		return strings.TrimPrefix(argv[i].val, short), 1, argv[i].known && !argv[i].glob
	}
	return "", 0, false
}

// findFlag looks for an option with a value anywhere in argv[from:]; the
// last one wins. found reports whether it is there at all.
func findFlag(argv []word, from int, long, short string, attached bool) (val string, found, known bool) {
	for i := from; i < len(argv); i++ {
		if argv[i].known && argv[i].val == "--" {
			break
		}
		if v, n, k := flagAt(argv, i, long, short, attached); n > 0 {
			val, found, known = v, true, k
			i += n - 1
		}
	}
	return val, found, known
}

// hasWord reports whether one of the words in argv[from:] (before a "--")
// is one of names.
func hasWord(argv []word, from int, names ...string) bool {
	for i := from; i < len(argv); i++ {
		if argv[i].known && argv[i].val == "--" {
			return false
		}
		for _, n := range names {
			if argv[i].known && argv[i].val == n {
				return true
			}
		}
	}
	return false
}
