package pkgmgr

import (
	"path"
	"strings"
)

// Which program a command runs (through a shell script file, a launcher or
// `python -m`), and which of its words belong to that program.

// program names what a command runs, looking through `sh ./gradlew …`, a
// launcher (manager.Launchers: `corepack pnpm …`, `php composer.phar …`)
// and `python3 -m poetry …`. It returns the name (a basename) and the
// index in c.argv of the first argument of that program.
func program(c *command) (string, int) {
	argv := c.argv
	switch {
	case shells[c.name]:
		// A script file run by a shell: `sh ./gradlew build`.
		if len(argv) > 1 && argv[1].known && argv[1].val != "" && argv[1].val[0] != '-' && argv[1].val[0] != '+' {
			return path.Base(argv[1].val), 2
		}
	case c.name == "corepack":
		if len(argv) > 1 && argv[1].known && launches("corepack", argv[1].val) {
			return argv[1].val, 2
		}
	case isVersioned(c.name, "php"):
		return phpScript(c)
	case isVersioned(c.name, "python"):
		if m, i := pythonModule(c); m != "" {
			return m, i
		}
	}
	return c.name, 1
}

// phpScript finds, in `php [-d k=v] [-c ini] … composer.phar …`, a script
// that a manager launched by php (manager.Launchers "phpX.Y") is.
func phpScript(c *command) (string, int) {
	for i := 1; i < len(c.argv); i++ {
		a := c.argv[i]
		switch {
		case !a.known:
			return c.name, 1
		case a.val == "-d" || a.val == "-c":
			i++
		case strings.HasPrefix(a.val, "-"):
		default:
			if b := path.Base(a.val); launches("phpX.Y", b) {
				return b, i + 1
			}
			return c.name, 1
		}
	}
	return c.name, 1
}

// pythonModule finds `python -m mod args…`: the module and the index of
// its first argument.
func pythonModule(c *command) (string, int) {
	for i := 1; i < len(c.argv); i++ {
		a := c.argv[i]
		switch {
		case !a.known:
			return "", -1
		case a.val == "-m":
			if i+1 < len(c.argv) && c.argv[i+1].known {
				return c.argv[i+1].val, i + 2
			}
			return "", -1
		case strings.HasPrefix(a.val, "-m") && len(a.val) > 2:
			return a.val[2:], i + 1
		case a.val == "-W" || a.val == "-X" || a.val == "--check-hash-based-pycs":
			i++
		case len(a.val) > 1 && a.val[0] == '-' && !strings.ContainsAny(a.val[1:], "cm"):
		default:
			return "", -1
		}
	}
	return "", -1
}

// isVersioned reports whether name is base followed by a version like
// "3", "3.12" (or nothing).
func isVersioned(name, base string) bool {
	v, ok := strings.CutPrefix(name, base)
	if !ok {
		return false
	}
	if v == "" {
		return true
	}
	if v[0] < '0' || v[0] > '9' {
		return false
	}
	return strings.Trim(v, "0123456789.") == ""
}

// toolWords are the words of argv[from:] that belong to the tool itself:
// everything up to a "--", and for commands that run another program (`uv
// run`, `uvx`, `bunx`) only up to that program's name — the first
// positional word after the subWords positional words of the subcommand.
// valued lists the options whose value is the next word.
func toolWords(argv []word, from, subWords int, runs bool, valued []string) []word {
	var out []word
	seen := 0
	for i := from; i < len(argv); i++ {
		w := argv[i]
		if w.known && w.val == "--" {
			break
		}
		if !runs {
			out = append(out, w)
			continue
		}
		t := w.text()
		switch {
		case strings.HasPrefix(t, "-") && len(t) > 1:
			out = append(out, w)
			for _, v := range valued {
				if t == v && i+1 < len(argv) {
					i++
					out = append(out, argv[i])
				}
			}
		case seen < subWords:
			seen++
			out = append(out, w)
		default:
			return out
		}
	}
	return out
}
