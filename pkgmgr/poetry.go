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

func init() {
	register(manager{
		Name:          "poetry",
		Programs:      []string{"poetry"},
		CacheVars:     []string{"POETRY_CACHE_DIR"},
		CachePrograms: []string{"poetry"},
		Analyze:       func(t *task) { poetryCLI.run(t) },
	})
}

var poetryCLI = cli{
	sub:     subIn("CP", poetryValued, "self", "cache"),
	fetches: poetryDownloads,
	cache:   firstOf(envDir("POETRY_CACHE_DIR", ""), xdgDir("XDG_CACHE_HOME", "pypoetry", ".cache/pypoetry")),
	mounts: func(c call, dir string) []mount {
		if poetryWhole(c, dir) {
			return []mount{{}, {dir: "artifacts", built: true, inside: true}}
		}
		return []mount{{dir: "cache"}, {dir: "artifacts", built: true}}
	},
	sharing: Locked,
	off:     flagIn("--no-cache"),
	clears: func(c call, dir string) []string {
		switch {
		case c.sub != "cache clear":
			return nil
		case poetryWhole(c, dir):
			return []string{dir}
		}
		return []string{path.Join(dir, "cache")}
	},
}

// poetryWhole reports whether the environment surely keeps the venvs
// outside the cache dir, so all of it may be mounted.
func poetryWhole(c call, dir string) bool {
	if v, set, known := c.Env.Get("POETRY_VIRTUALENVS_CREATE"); set && known && !truthy(v) && v != "" {
		return true
	}
	if v, set, known := c.Env.Get("POETRY_VIRTUALENVS_IN_PROJECT"); set && known && truthy(v) {
		return true
	}
	p, set, known := c.Env.Get("POETRY_VIRTUALENVS_PATH")
	return set && known && path.IsAbs(p) && !fspath.Within(path.Clean(p), dir)
}
