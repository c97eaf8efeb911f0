package pkgmgr

import (
	"path"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// PDM's cache_dir is PDM_CACHE_DIR, else platformdirs'
// user_cache_dir("pdm"): $XDG_CACHE_HOME/pdm or ~/.cache/pdm
// (pdm/project/config.py). Inside it (pdm/project/core.py): http/ (the HTTP
// cache of downloads), wheels/ (built wheels), metadata/, hashes/ — and
// packages/, the install cache: with `install.cache = true` PDM links
// installed packages into the environment from there (symlinks by
// default). packages/ is product, and that setting can sit in a config file
// we can't see, so only http/ and wheels/ are mounted. Virtualenvs are in
// the project's .venv or the data dir: never mounted.
//
// Turned off by --no-cache and PDM_NO_CACHE (dropped). `pdm cache clear`
// goes when it names only what is mounted (http, wheels); without an
// argument it clears everything, packages/ included: it stays, and so
// nothing is mounted.
//
// wheels/ is per image: PDM keys a built wheel by URL and the target
// environment (models/caches.py WheelCache; dep_logic's EnvSpec names
// the libc and its version, manylinux_2_36_x86_64), so musl and glibc
// don't mix, but two images with the same glibc and other libraries do.
//
// Sharing: locked. Source builds write their wheel straight into wheels/
// (the wheel cache path is the build's output directory), so two builds of
// one sdist would write the same file; the HTTP cache (hishel's file
// storage) we could not verify.
var pdmDownloads = map[string]bool{
	"install": true, "add": true, "update": true, "lock": true, "sync": true, "remove": true, "export": false,
}

func init() {
	register(manager{
		Name:          "pdm",
		Programs:      []string{"pdm"},
		CacheVars:     []string{"PDM_CACHE_DIR"},
		CachePrograms: []string{"pdm"},
		Analyze:       func(t *task) { pdmCLI.run(t) },
	})
}

var pdmCLI = cli{
	sub:     subIn("pg", pdmValued),
	fetches: pdmDownloads,
	cache:   firstOf(envDir("PDM_CACHE_DIR", ""), xdgDir("XDG_CACHE_HOME", "pdm", ".cache/pdm")),
	mounts: func(call, string) []mount {
		return []mount{{dir: "http"}, {dir: "wheels", built: true}}
	},
	sharing: Locked,
	off:     flagIn("--no-cache"),
	offEnv:  []string{"PDM_NO_CACHE"},
	clears:  pdmClears,
}

var pdmValued = []string{"-p", "--project", "-g", "--global", "-c", "--config"}

// pdmClears reads `pdm cache clear [TYPE]`: without a type it clears
// everything, packages/ included, which stays, so nothing is mounted.
func pdmClears(c call, dir string) []string {
	rest, _ := shell.SkipOptions(c.Argv[c.from:], "pg", pdmValued)
	if c.sub != "cache" || len(rest) < 2 || !rest[1].Known || rest[1].Val != "clear" {
		return nil
	}
	switch {
	case len(rest) == 2:
		return []string{path.Join(dir, "http"), path.Join(dir, "wheels"), path.Join(dir, "packages")}
	case rest[2].Known && (rest[2].Val == "http" || rest[2].Val == "wheels"):
		return []string{path.Join(dir, rest[2].Val)}
	}
	return nil
}
