package pkgmgr

import (
	"path"
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// pip's general options that take a value (they may come before the
// subcommand).
var pipValued = []string{
	"--log", "--log-file", "--local-log", "--proxy", "--retries", "--timeout", "--exists-action",
	"--trusted-host", "--cert", "--client-cert", "--cache-dir", "--python", "--use-feature",
	"--use-deprecated", "--keyring-provider", "--resume-retries",
}

// Subcommands that download packages.
var pipDownloads = map[string]bool{"install": true, "download": true, "wheel": true, "lock": true}

// pipArgs finds pip's arguments in a command: `pip3 …`, `python3 -m pip …`.
// It returns the index in argv of the first one, or -1.
func pipArgs(t *task, c *shell.Command) int {
	if t.is(c) {
		return 1
	}
	if !isVersioned(c.Name, "python") && !isVersioned(c.Name, "pypy") {
		return -1
	}
	for i := 1; i < len(c.Argv); i++ {
		a := c.Argv[i]
		switch {
		case !a.Known:
			return -1
		case a.Val == "-m":
			if i+1 < len(c.Argv) && c.Argv[i+1].Known && c.Argv[i+1].Val == "pip" {
				return i + 2
			}
			return -1
		case a.Val == "-mpip":
			return i + 1
		case a.Val == "-W" || a.Val == "-X" || a.Val == "--check-hash-based-pycs":
			i++
		case len(a.Val) > 1 && a.Val[0] == '-' && !strings.ContainsAny(a.Val[1:], "cm"):
		default:
			return -1 // a script, -c code, another module
		}
	}
	return -1
}

// pipSub returns pip's subcommand and the index of its word.
func pipSub(argv []shell.Word, from int) (string, int) {
	rest, ok := shell.SkipOptions(argv[from:], "", pipValued)
	if !ok || len(rest) == 0 || !rest[0].Known {
		return "", -1
	}
	return rest[0].Val, len(argv) - len(rest)
}

// isNoCacheDir matches --no-cache-dir, --no-cache-dir=…, and the unique
// abbreviations optparse accepts (--no-cache, --no-ca).
func isNoCacheDir(w shell.Word) bool {
	if !w.Known {
		return false
	}
	name, _, _ := strings.Cut(w.Val, "=")
	return len(name) >= len("--no-ca") && strings.HasPrefix("--no-cache-dir", name)
}

// pipCacheDir is where a pip command keeps its cache: --cache-dir, else
// PIP_CACHE_DIR, else $XDG_CACHE_HOME/pip, else ~/.cache/pip.
func pipCacheDir(c *shell.Command, argv []shell.Word) (string, bool, string) {
	h, hok, hwhy := shell.Home(c.Env, c.User)
	tilde := ""
	if hok {
		tilde = h
	}
	for i, a := range argv {
		v, flag := "", false
		switch {
		case a.Known && a.Val == "--cache-dir" && i+1 < len(argv):
			v, flag = argv[i+1].Val, argv[i+1].Known
			if !flag {
				return "", false, "--cache-dir is not a literal"
			}
		case a.Known && strings.HasPrefix(a.Val, "--cache-dir="):
			v, flag = strings.TrimPrefix(a.Val, "--cache-dir="), true
		}
		if flag {
			return absDir("--cache-dir "+v, v, tilde)
		}
	}
	if d, ok, why := dirSetting(c.Env, "PIP_CACHE_DIR", tilde); !ok || d != "" {
		return d, ok, why
	}
	if d, ok, why := dirSetting(c.Env, "XDG_CACHE_HOME", ""); !ok || d != "" {
		return d + "/pip", ok, why
	}
	if !hok {
		return "", false, hwhy
	}
	return h + "/.cache/pip", true, ""
}

func init() {
	register(manager{
		Name:          "pip",
		Programs:      []string{"pipX.Y"}, // and `python -m pip` (pipArgs)
		CacheVars:     []string{"PIP_CACHE_DIR"},
		CachePrograms: []string{"pip", "pip3", "python", "python3"},
		Analyze:       analyzePip,
	})
}

func analyzePip(t *task) {
	var uses []offUse
	for _, c := range t.commands() {
		from := pipArgs(t, c)
		if from < 0 {
			continue
		}
		sub, at := pipSub(c.Argv, from)
		switch {
		case pipDownloads[sub]:
			dir, ok, why := pipCacheDir(c, c.Argv[from:])
			var off []shell.Word
			for _, w := range c.Argv[from:] {
				if isNoCacheDir(w) {
					off = append(off, w)
				}
			}
			uses = append(uses, offUse{c: c, target: dir, words: off, bare: true})
			t.detect()
			if !ok {
				t.skip(why)
				continue
			}
			t.want(c.User, dir, Shared)
			// Wheels built from sdists: keyed by URL and interpreter
			// (cache.py), tagged linux_<arch> on glibc and musl alike.
			t.wantBuilt(c.User, dir, path.Join(dir, "wheels"), Shared)
		case sub == "cache":
			if op, _ := pipSub(c.Argv, at+1); op == "purge" || op == "remove" {
				if dir, ok, _ := pipCacheDir(c, c.Argv[from:]); ok {
					t.clears(c, dir)
				}
			}
		}
	}
	if len(uses) > 0 {
		// With the cache mounted, what turned it off is in the way: drop it.
		t.dropOffSwitches([]string{"PIP_NO_CACHE_DIR"}, uses)
	}
}
