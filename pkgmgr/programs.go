package pkgmgr

import (
	"path"
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// Which program a command runs (through a shell script file, a launcher or
// `python -m`), and which of its words belong to that program.

// program names what a command runs, looking through `sh ./gradlew …`, a
// launcher (manager.Launchers: `corepack pnpm …`, `php composer.phar …`)
// and `python3 -m poetry …`. It returns the name (a basename) and the
// index in c.argv of the first argument of that program.
func program(c *shell.Command) (string, int) {
	argv := c.Argv
	switch {
	case shell.IsShell(c.Name):
		// A script file run by a shell: `sh ./gradlew build`.
		if len(argv) > 1 && argv[1].Known && argv[1].Val != "" && argv[1].Val[0] != '-' && argv[1].Val[0] != '+' {
			return path.Base(argv[1].Val), 2
		}
	case c.Name == "corepack":
		if len(argv) > 1 && argv[1].Known && launches("corepack", argv[1].Val) {
			return argv[1].Val, 2
		}
	case isVersioned(c.Name, "php"):
		return phpScript(c)
	case isVersioned(c.Name, "python"):
		if m, i := pythonModule(c); m != "" {
			return m, i
		}
	}
	return c.Name, 1
}

// phpScript finds, in `php [-d k=v] [-c ini] … composer.phar …`, a script
// that a manager launched by php (manager.Launchers "phpX.Y") is.
func phpScript(c *shell.Command) (string, int) {
	for i := 1; i < len(c.Argv); i++ {
		a := c.Argv[i]
		switch {
		case !a.Known:
			return c.Name, 1
		case a.Val == "-d" || a.Val == "-c":
			i++
		case strings.HasPrefix(a.Val, "-"):
		default:
			if b := path.Base(a.Val); launches("phpX.Y", b) {
				return b, i + 1
			}
			return c.Name, 1
		}
	}
	return c.Name, 1
}

// pythonModule finds `python -m mod args…`: the module and the index of
// its first argument.
func pythonModule(c *shell.Command) (string, int) {
	for i := 1; i < len(c.Argv); i++ {
		a := c.Argv[i]
		switch {
		case !a.Known:
			return "", -1
		case a.Val == "-m":
			if i+1 < len(c.Argv) && c.Argv[i+1].Known {
				return c.Argv[i+1].Val, i + 2
			}
			return "", -1
		case strings.HasPrefix(a.Val, "-m") && len(a.Val) > 2:
			return a.Val[2:], i + 1
		case a.Val == "-W" || a.Val == "-X" || a.Val == "--check-hash-based-pycs":
			i++
		case len(a.Val) > 1 && a.Val[0] == '-' && !strings.ContainsAny(a.Val[1:], "cm"):
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
func toolWords(argv []shell.Word, from, subWords int, runs bool, valued []string) []shell.Word {
	var out []shell.Word
	seen := 0
	for i := from; i < len(argv); i++ {
		w := argv[i]
		if w.Known && w.Val == "--" {
			break
		}
		if !runs {
			out = append(out, w)
			continue
		}
		t := w.Text()
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
