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

// pipArgs finds pip's arguments in a command: `pip3 …`, `python3 -m pip …`.
// It returns the index in argv of the first one, or -1.
func pipArgs(c *command) int {
	if isVersioned(c.name, "pip") {
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

func analyzePip(a *analysis) {
	type inv struct {
		c      *command
		from   int
		target string
	}
	var downloads []inv
	for _, c := range a.cmds {
		from := pipArgs(c)
		if from < 0 {
			continue
		}
		sub, at := pipSub(c.argv, from)
		switch {
		case pipDownloads[sub]:
			dir, ok, why := pipCacheDir(c, c.argv[from:])
			downloads = append(downloads, inv{c, from, dir})
			a.detect("pip")
			if !ok {
				a.skip("pip", why)
				continue
			}
			a.want("pip", c.user, dir, Shared)
			// Wheels built from sdists: keyed by URL and interpreter
			// (cache.py), tagged linux_<arch> on glibc and musl alike.
			a.wantBuilt("pip", c.user, dir, path.Join(dir, "wheels"), Shared)
		case sub == "cache":
			if op, _ := pipSub(c.argv, at+1); op == "purge" || op == "remove" {
				if dir, ok, _ := pipCacheDir(c, c.argv[from:]); ok {
					a.addCleanup("pip", c, cleanItem{word: -1, targets: []string{dir}})
				}
			}
		}
	}
	if len(downloads) == 0 {
		return
	}
	// With the cache mounted, what turned it off is in the way: drop it.
	a.finish = append(a.finish, func(mounted map[string]bool) {
		siteDone := map[*assignSite]bool{}
		dropSite := func(s *assignSite) {
			what := "`" + oneLine(s.raw) + "`"
			if siteDone[s] {
				return
			}
			siteDone[s] = true
			if s.del == nil {
				a.note("pip", "kept "+what+" (inside a string it can't edit): the cache stays unused")
				return
			}
			a.edits = append(a.edits, s.del)
			a.note("pip", "dropped "+what)
		}
		anyMounted := false
		for _, d := range downloads {
			if d.target == "" || !mounted[d.target] {
				continue
			}
			anyMounted = true
			for _, w := range d.c.argv[d.from:] {
				if !isNoCacheDir(w) {
					continue
				}
				if e := wordDel(w); e != nil {
					a.edits = append(a.edits, e)
					a.note("pip", "dropped "+w.val)
				} else {
					a.note("pip", "kept "+w.val+" (inside a string it can't edit): the cache stays unused")
				}
			}
			for _, s := range d.c.inline {
				if s.name == "PIP_NO_CACHE_DIR" {
					dropSite(s)
				}
			}
		}
		if !anyMounted {
			return
		}
		for _, s := range a.sites["PIP_NO_CACHE_DIR"] {
			dropSite(s)
		}
		for _, kv := range a.step.Env {
			if strings.HasPrefix(kv, "PIP_NO_CACHE_DIR=") && !a.dropEnv["PIP_NO_CACHE_DIR"] {
				a.dropEnv["PIP_NO_CACHE_DIR"] = true
				a.note("pip", "removed PIP_NO_CACHE_DIR from the step's env")
			}
		}
	})
}
