package pkgmgr

import (
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
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

func init() {
	register(manager{
		Name:          "bun",
		Programs:      []string{"bun", "bunx"},
		CacheVars:     []string{"BUN_INSTALL_CACHE_DIR", "BUN_INSTALL"},
		CachePrograms: []string{"bun"},
		Analyze:       func(t *task) { bunCLI.run(t) },
	})
}

var bunValued = []string{"--cwd", "--cache-dir", "--backend", "-c", "--config"}

var bunCLI = cli{
	sub:     bunSub,
	fetches: bunDownloads,
	cache: firstOf(flagDir("--cache-dir", "", false), envDir("BUN_INSTALL_CACHE_DIR", ""),
		envDir("BUN_INSTALL", "install/cache"), xdgDir("XDG_CACHE_HOME", ".bun/install/cache", ".bun/install/cache")),
	sharing: Locked,
	check: func(t *task, c call, dir string) string {
		if v, found, _ := shell.FindFlag(c.Argv, c.from, "--backend", "", false); found && v == "symlink" {
			t.block(dir, "`"+shell.OneLine(c.Raw)+"` links packages from the cache")
		}
		return ""
	},
	off: func(w shell.Word) bool {
		return w.Known && (w.Val == "--no-cache" || strings.HasPrefix(w.Val, "--no-cache="))
	},
	offWords: func(c call) []shell.Word {
		subWords := 1
		if c.prog == "bunx" {
			subWords = 0
		}
		return toolWords(c.Argv, c.from, subWords, c.sub == "x", []string{"--cwd", "--cache-dir", "--backend", "-p", "--package"})
	},
	clears: clearsOn("pm cache rm"),
}

// bunSub is bun's subcommand ("pm cache rm" for the cache's).
func bunSub(c call) string {
	if c.prog == "bunx" {
		return "x"
	}
	rest, ok := shell.SkipOptions(c.Argv[c.from:], "", bunValued)
	if !ok || len(rest) == 0 || !rest[0].Known {
		return ""
	}
	if rest[0].Val == "pm" && len(rest) > 2 && rest[1].Known && rest[1].Val == "cache" && rest[2].Known && rest[2].Val == "rm" {
		return "pm cache rm"
	}
	return rest[0].Val
}
