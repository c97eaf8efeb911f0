package pkgmgr

import (
	"path"
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
var pdmCacheSubdirs = []string{"http", "wheels"}

var pdmDownloads = map[string]bool{
	"install": true, "add": true, "update": true, "lock": true, "sync": true, "remove": true, "export": false,
}

func pdmCacheDir(c *command) (string, bool, string) {
	if d, ok, why := dirSetting(c.env, "PDM_CACHE_DIR", ""); !ok || d != "" {
		return d, ok, why
	}
	return userDir(c.env, c.user, "XDG_CACHE_HOME", "pdm", ".cache/pdm")
}

func analyzePdm(a *analysis) {
	var uses []offUse
	for _, c := range a.cmds {
		name, from := program(c)
		if name != "pdm" {
			continue
		}
		rest, ok := skipOptions(c.argv[from:], "pg", []string{"-p", "--project", "-g", "--global", "-c", "--config"})
		sub := ""
		if ok && len(rest) > 0 && rest[0].known {
			sub = rest[0].val
		}
		dir, dok, why := pdmCacheDir(c)
		switch {
		case pdmDownloads[sub]:
			a.detect("pdm")
			if !dok {
				a.skip("pdm", why)
				continue
			}
			var off []word
			for _, w := range toolWords(c.argv, from, 0, false, nil) {
				if w.known && w.val == "--no-cache" {
					off = append(off, w)
				}
			}
			for _, s := range pdmCacheSubdirs {
				t := path.Join(dir, s)
				if s == "wheels" {
					a.wantBuilt("pdm", c.user, "", t, Locked)
				} else {
					a.want("pdm", c.user, t, Locked)
				}
				uses = append(uses, offUse{c: c, target: t, words: off})
			}
		case sub == "cache" && dok && len(rest) > 1 && rest[1].known && rest[1].val == "clear":
			switch {
			case len(rest) == 2: // everything, packages/ included: it stays, so nothing is mounted
				a.addCleanup("pdm", c, cleanItem{word: -1, targets: []string{
					path.Join(dir, "http"), path.Join(dir, "wheels"), path.Join(dir, "packages")}})
			case rest[2].known && (rest[2].val == "http" || rest[2].val == "wheels"):
				a.addCleanup("pdm", c, cleanItem{word: -1, targets: []string{path.Join(dir, rest[2].val)}})
			}
		}
	}
	if len(uses) > 0 {
		a.dropOffSwitches("pdm", []string{"PDM_NO_CACHE"}, uses)
	}
}
