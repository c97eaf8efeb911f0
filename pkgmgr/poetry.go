package pkgmgr

import (
	"path"

	"github.com/autocache/autocache/internal/fspath"
)

// Poetry's cache-dir is POETRY_CACHE_DIR, else $XDG_CACHE_HOME/pypoetry,
// else ~/.cache/pypoetry (platformdirs). It holds the repository cache
// (cache/), downloaded distributions (artifacts/) — and, by default, the
// project's virtualenv: virtualenvs.path defaults to {cache-dir}/virtualenvs.
// That is product, so the whole cache-dir is mounted only when the
// environment says the venvs live elsewhere:
// POETRY_VIRTUALENVS_CREATE=false, POETRY_VIRTUALENVS_IN_PROJECT=true, or a
// POETRY_VIRTUALENVS_PATH outside it. Environment variables beat every
// config file (a project's poetry.toml included); `poetry config` in the
// step writes the global config, which a poetry.toml can override, so it
// doesn't count. Otherwise only cache/ and artifacts/ are mounted.
//
// Turned off by --no-cache (dropped). `poetry cache clear` goes when what it
// clears is mounted.
//
// artifacts/ is per image: Poetry (1.4 and later) builds an sdist's wheel
// next to the downloaded sdist there (installation/executor.py
// _download_link, chef.py), keyed by URL only (utils/cache.py), and picks
// the best wheel in that directory for the environment's tags; a built
// wheel is tagged linux_<arch> on glibc and musl alike. Downloads and
// built wheels share that directory, so downloads are shared only by
// builds on the same base image too.
//
// Sharing: locked. Poetry's artifact cache has no lock across processes
// that we could verify; a half-written archive would fail its hash check.
var poetryDownloads = map[string]bool{
	"install": true, "add": true, "update": true, "lock": true, "sync": true, "remove": true,
	"self add": true, "self install": true, "self update": true, "self lock": true, "self sync": true,
}

var poetryValued = []string{"-C", "--directory", "-P", "--project"}

func poetrySub(argv []word, from int) (string, int) {
	rest, ok := skipOptions(argv[from:], "CP", poetryValued)
	if !ok || len(rest) == 0 || !rest[0].known {
		return "", -1
	}
	sub := rest[0].val
	if (sub == "self" || sub == "cache") && len(rest) > 1 && rest[1].known {
		return sub + " " + rest[1].val, len(argv) - len(rest) + 1
	}
	return sub, len(argv) - len(rest)
}

// poetryCacheDir resolves cache-dir, and whether the venvs are surely
// outside it.
func poetryCacheDir(c *command) (dir string, whole, ok bool, why string) {
	dir, ok, why = dirSetting(c.env, "POETRY_CACHE_DIR", "")
	if ok && dir == "" {
		dir, ok, why = userDir(c.env, c.user, "XDG_CACHE_HOME", "pypoetry", ".cache/pypoetry")
	}
	if !ok {
		return "", false, false, why
	}
	if v, set, known := c.env.get("POETRY_VIRTUALENVS_CREATE"); set && known && !truthy(v) && v != "" {
		return dir, true, true, ""
	}
	if v, set, known := c.env.get("POETRY_VIRTUALENVS_IN_PROJECT"); set && known && truthy(v) {
		return dir, true, true, ""
	}
	if p, set, known := c.env.get("POETRY_VIRTUALENVS_PATH"); set && known && path.IsAbs(p) && !fspath.Within(path.Clean(p), dir) {
		return dir, true, true, ""
	}
	return dir, false, true, ""
}

func analyzePoetry(a *analysis) {
	var uses []offUse
	for _, c := range a.cmds {
		name, from := program(c)
		if name != "poetry" {
			continue
		}
		sub, _ := poetrySub(c.argv, from)
		dir, whole, ok, why := poetryCacheDir(c)
		targets := []string{dir}
		if !whole {
			targets = []string{path.Join(dir, "cache")}
		}
		switch {
		case poetryDownloads[sub]:
			a.detect("poetry")
			if !ok {
				a.skip("poetry", why)
				continue
			}
			var off []word
			for _, w := range toolWords(c.argv, from, 0, false, nil) {
				if w.known && w.val == "--no-cache" {
					off = append(off, w)
				}
			}
			for _, t := range targets {
				a.want("poetry", c.user, t, Locked)
				uses = append(uses, offUse{c: c, target: t, words: off})
			}
			artifacts, inside := path.Join(dir, "artifacts"), ""
			if whole {
				inside = dir
			}
			a.wantBuilt("poetry", c.user, inside, artifacts, Locked)
			uses = append(uses, offUse{c: c, target: artifacts, words: off})
		case sub == "cache clear" && ok:
			repo := path.Join(dir, "cache")
			if whole {
				repo = dir
			}
			a.addCleanup("poetry", c, cleanItem{word: -1, targets: []string{repo}})
		}
	}
	if len(uses) > 0 {
		a.dropOffSwitches("poetry", nil, uses)
	}
}
