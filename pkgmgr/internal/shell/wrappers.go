package shell

import (
	"path"
	"strings"
)

// unwrap takes wrapper programs off the front of a command line
// (env, sudo, gosu, command, exec, time, nice, nohup, timeout, stdbuf,
// eatmydata), applying what they do to the environment and the user.
// ok=false: the words don't run a command we can name (`command -v x`,
// `env -S …`, unknown words where an option should be).
func unwrap(cmd *Command, words []Word) ([]Word, bool) {
	for len(words) > 0 && words[0].Known {
		var rest []Word
		var ok bool
		switch path.Base(words[0].Val) {
		case "env":
			rest, ok = unwrapEnv(cmd, words[1:])
		case "sudo":
			rest, ok = unwrapSudo(cmd, words[1:])
		case "gosu", "su-exec":
			if len(words) < 2 || !words[1].Known {
				return nil, false
			}
			cmd.User = ParseUser(words[1].Val)
			setHome(cmd.writableEnv(), cmd.User) // both set HOME from the target's passwd entry
			rest, ok = words[2:], true
		case "command":
			rest, ok = SkipOptions(words[1:], "", nil)
			for _, o := range words[1 : len(words)-len(rest)] {
				if strings.ContainsAny(o.Val, "vV") {
					return nil, false // command -v: a lookup, not a run
				}
			}
		case "exec":
			rest, ok = SkipOptions(words[1:], "a", nil)
		case "time":
			rest, ok = SkipOptions(words[1:], "fo", []string{"--format", "--output"})
		case "nice":
			rest, ok = SkipOptions(words[1:], "n", []string{"--adjustment"})
		case "nohup", "eatmydata":
			rest, ok = SkipOptions(words[1:], "", nil)
		case "stdbuf":
			rest, ok = SkipOptions(words[1:], "ioe", []string{"--input", "--output", "--error"})
		case "timeout":
			rest, ok = SkipOptions(words[1:], "sk", []string{"--signal", "--kill-after"})
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

// assignWord reports whether an argument reads NAME=value (env, sudo).
func assignWord(w Word) (name, val string, ok bool) {
	text := w.Val
	if !w.Known {
		text = w.Prefix
	}
	name, val, ok = strings.Cut(text, "=")
	return name, val, ok && validName(name)
}

// takeAssigns consumes NAME=value words into the command's environment.
func takeAssigns(cmd *Command, words []Word) []Word {
	for len(words) > 0 {
		name, val, ok := assignWord(words[0])
		if !ok {
			break
		}
		site := &AssignSite{Name: name, Raw: words[0].Raw, Del: DeleteWord(words[0])}
		cmd.Inline = append(cmd.Inline, site)
		cmd.writableEnv()[name] = Value{Val: val, Known: words[0].Known && !words[0].Glob, Exported: true, Site: site}
		words = words[1:]
	}
	return words
}

func unwrapEnv(cmd *Command, words []Word) ([]Word, bool) {
	for len(words) > 0 {
		a := words[0]
		if !a.Known {
			return nil, false
		}
		v := a.Val
		n := 1
		switch {
		case v == "--":
			words = words[1:]
			return takeAssigns(cmd, words), true
		case v == "-" || v == "-i" || v == "--ignore-environment":
			cmd.Env, cmd.shared = Vars{}, false
		case v == "-u" || v == "--unset":
			if len(words) < 2 {
				return nil, false
			}
			delete(cmd.writableEnv(), words[1].Val)
			n = 2
		case strings.HasPrefix(v, "--unset="):
			delete(cmd.writableEnv(), strings.TrimPrefix(v, "--unset="))
		case strings.HasPrefix(v, "-u"):
			delete(cmd.writableEnv(), v[2:])
		case v == "-C" || v == "--chdir":
			cmd.Cwd, n = "", 2
		case strings.HasPrefix(v, "-C") || strings.HasPrefix(v, "--chdir="):
			cmd.Cwd = ""
		case strings.HasPrefix(v, "-S") || strings.HasPrefix(v, "--split-string"):
			return nil, false // a command line packed in one string
		case len(v) > 1 && v[0] == '-':
			if strings.Contains(v, "i") && !strings.HasPrefix(v, "--") {
				cmd.Env, cmd.shared = Vars{}, false
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

func unwrapSudo(cmd *Command, words []Word) ([]Word, bool) {
	target := "root"
	preserve := false
	for len(words) > 0 {
		a := words[0]
		if !a.Known {
			return nil, false
		}
		v := a.Val
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
					target = words[1].Val
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
					val, n = words[1].Val, 2
				}
				if c == 'u' {
					target = val
				}
				break
			}
		}
		words = words[n:]
	}
	cmd.User = ParseUser(strings.TrimPrefix(target, "#"))
	if !preserve {
		cmd.Env, cmd.shared = Vars{}, false // env_reset: a fresh environment
	}
	setHome(cmd.writableEnv(), cmd.User)
	return takeAssigns(cmd, words), true
}

// setHome makes HOME what a program switching to u gets: its passwd home,
// which we know for root only.
func setHome(env Vars, u User) {
	if u.Kind == RootUser {
		env["HOME"] = Value{Val: "/root", Known: true, Exported: true}
		return
	}
	delete(env, "HOME")
}
