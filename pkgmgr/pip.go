package pkgmgr

import (
	"path"
	"strings"
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
func pipArgs(t *task, c *command) int {
	if t.is(c) {
		return 1
	}
	if !isVersioned(c.name, "python") && !isVersioned(c.name, "pypy") {
		return -1
	}
	for i := 1; i < len(c.argv); i++ {
		a := c.argv[i]
		switch {
		case !a.known:
			return -1
		case a.val == "-m":
			if i+1 < len(c.argv) && c.argv[i+1].known && c.argv[i+1].val == "pip" {
				return i + 2
			}
			return -1
		case a.val == "-mpip":
			return i + 1
		case a.val == "-W" || a.val == "-X" || a.val == "--check-hash-based-pycs":
			i++
		case len(a.val) > 1 && a.val[0] == '-' && !strings.ContainsAny(a.val[1:], "cm"):
		default:
			return -1 // a script, -c code, another module
		}
	}
	return -1
}

// pipSub returns pip's subcommand and the index of its word.
func pipSub(argv []word, from int) (string, int) {
	rest, ok := skipOptions(argv[from:], "", pipValued)
	if !ok || len(rest) == 0 || !rest[0].known {
		return "", -1
	}
	return rest[0].val, len(argv) - len(rest)
}

// isNoCacheDir matches --no-cache-dir, --no-cache-dir=…, and the unique
// abbreviations optparse accepts (--no-cache, --no-ca).
func isNoCacheDir(w word) bool {
	if !w.known {
		return false
	}
	name, _, _ := strings.Cut(w.val, "=")
	return len(name) >= len("--no-ca") && strings.HasPrefix("--no-cache-dir", name)
}

// pipCacheDir is where a pip command keeps its cache: --cache-dir, else
// PIP_CACHE_DIR, else $XDG_CACHE_HOME/pip, else ~/.cache/pip.
func pipCacheDir(c *command, argv []word) (string, bool, string) {
	h, hok, hwhy := home(c.env, c.user)
	tilde := ""
	if hok {
		tilde = h
	}
	for i, a := range argv {
		v, flag := "", false
		switch {
		case a.known && a.val == "--cache-dir" && i+1 < len(argv):
			v, flag = argv[i+1].val, argv[i+1].known
			if !flag {
				return "", false, "--cache-dir is not a literal"
			}
		case a.known && strings.HasPrefix(a.val, "--cache-dir="):
			v, flag = strings.TrimPrefix(a.val, "--cache-dir="), true
		}
		if flag {
			return absDir("--cache-dir "+v, v, tilde)
		}
	}
	if d, ok, why := dirSetting(c.env, "PIP_CACHE_DIR", tilde); !ok || d != "" {
		return d, ok, why
	}
	if d, ok, why := dirSetting(c.env, "XDG_CACHE_HOME", ""); !ok || d != "" {
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
		sub, at := pipSub(c.argv, from)
		switch {
		case pipDownloads[sub]:
			dir, ok, why := pipCacheDir(c, c.argv[from:])
			var off []word
			for _, w := range c.argv[from:] {
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
			t.want(c.user, dir, Shared)
			// Wheels built from sdists: keyed by URL and interpreter
			// (cache.py), tagged linux_<arch> on glibc and musl alike.
			t.wantBuilt(c.user, dir, path.Join(dir, "wheels"), Shared)
		case sub == "cache":
			if op, _ := pipSub(c.argv, at+1); op == "purge" || op == "remove" {
				if dir, ok, _ := pipCacheDir(c, c.argv[from:]); ok {
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
