package pkgmgr

import (
	"path"
	"strings"
)

// bun keeps downloaded and extracted packages in its install cache:
// --cache-dir, BUN_INSTALL_CACHE_DIR, (bunfig.toml's install.cache.dir,
// which we can't see), $BUN_INSTALL/install/cache,
// $XDG_CACHE_HOME/.bun/install/cache, $HOME/.bun/install/cache (bun's
// fetchCacheDirectoryPath, in that order). node_modules gets hardlinks on
// Linux, and bun falls back to copying when that fails, as it does across
// the mount. --backend symlink would link into the cache: left alone.
//
// Turned off by --no-cache (dropped). `bun pm cache rm` goes.
//
// Sharing: locked. We could not verify how bun guards concurrent writes
// of one cache entry by two processes.

var bunDownloads = map[string]bool{
	"install": true, "i": true, "add": true, "a": true, "update": true, "remove": true, "rm": true,
	"ci": true, "x": true, "link": false, "outdated": false,
}

func bunCacheDir(c *command, from int) (string, bool, string) {
	if d, found, known := findFlag(c.argv, from, "--cache-dir", "", false); found {
		if !known {
			return "", false, "--cache-dir is not a literal"
		}
		return absDir("--cache-dir "+d, d, "")
	}
	if d, ok, why := dirSetting(c.env, "BUN_INSTALL_CACHE_DIR", ""); !ok || d != "" {
		return d, ok, why
	}
	if d, ok, why := dirSetting(c.env, "BUN_INSTALL", ""); !ok || d != "" {
		return path.Join(d, "install/cache"), ok, why
	}
	return userDir(c.env, c.user, "XDG_CACHE_HOME", ".bun/install/cache", ".bun/install/cache")
}

func analyzeBun(a *analysis) {
	var uses []offUse
	for _, c := range a.cmds {
		name, from := program(c)
		sub := ""
		switch name {
		case "bun":
			rest, ok := skipOptions(c.argv[from:], "", []string{"--cwd", "--cache-dir", "--backend", "-c", "--config"})
			if ok && len(rest) > 0 && rest[0].known {
				sub = rest[0].val
				if sub == "pm" && len(rest) > 2 && rest[1].known && rest[1].val == "cache" && rest[2].known && rest[2].val == "rm" {
					sub = "pm cache rm"
				}
			}
		case "bunx":
			sub = "x"
		default:
			continue
		}
		dir, ok, why := bunCacheDir(c, from)
		switch {
		case bunDownloads[sub]:
			a.detect("bun")
			if !ok {
				a.skip("bun", why)
				continue
			}
			if v, found, _ := findFlag(c.argv, from, "--backend", "", false); found && v == "symlink" {
				a.bad[dir] = "`" + oneLine(c.raw) + "` links packages from the cache"
			}
			var off []word
			subWords := 1
			if name == "bunx" {
				subWords = 0
			}
			for _, w := range toolWords(c.argv, from, subWords, sub == "x", []string{"--cwd", "--cache-dir", "--backend", "-p", "--package"}) {
				if w.known && (w.val == "--no-cache" || strings.HasPrefix(w.val, "--no-cache=")) {
					off = append(off, w)
				}
			}
			a.want("bun", c.user, dir, Locked)
			uses = append(uses, offUse{c: c, target: dir, words: off})
		case sub == "pm cache rm" && ok:
			a.addCleanup("bun", c, cleanItem{word: -1, targets: []string{dir}})
		}
	}
	if len(uses) > 0 {
		a.dropOffSwitches("bun", nil, uses)
	}
}
