package pkgmgr

import (
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// uv keeps everything it downloads or builds in one cache: --cache-dir,
// else UV_CACHE_DIR, else $XDG_CACHE_HOME/uv, else ~/.cache/uv (uv's
// storage reference; uv.toml's cache-dir can't be seen from here: a mount
// at the default is then merely unused). Environments, tools and managed
// Pythons live elsewhere (.venv, ~/.local/share/uv/…): never mounted.
//
// Link mode: uv hardlinks (Linux default) from the cache into environments;
// across the mount that fails and uv falls back to copying, with a warning.
// Worse, `link-mode = "symlink"` (which can sit in pyproject.toml or uv.toml,
// out of our sight) would leave the environment pointing into a cache that
// is not in the image. UV_LINK_MODE=copy for the step settles both: it is
// uv's --link-mode argument through the environment, so it beats config
// files. A --link-mode on the command line, or UV_LINK_MODE set by the
// script itself, beats it: then only "copy" is accepted.
//
// Turned off by --no-cache / -n / --no-cache-dir and UV_NO_CACHE (dropped
// once the cache is mounted); `uv cache clean|prune` and `uv clean` go.
// --offline (or UV_OFFLINE) runs from the cache the image has: not mounted.
//
// Built wheels: uv builds sdists into its sdists bucket (uv-cache's
// CacheBucket::SourceDistributions), one shard per source and revision,
// and picks a built wheel there by its tags alone; a built wheel is tagged
// linux_<arch> on glibc and musl alike. That bucket gets a per-image cache.
// Its name carries a version uv bumps when the layout changes: "sdists-v9"
// since uv 0.6.8; other uv versions build into their own bucket, in the
// shared cache.
//
// Sharing: shared. uv's docs (Cache safety): the cache "is designed to be
// thread-safe and append-only, and thus robust to multiple concurrent
// readers and writers"; only modifying it (uv cache clean/prune) while
// other uv commands run is unsafe, and those go once it is mounted.

const uvBuiltBucket = "sdists-v9"

var uvValued = []string{
	"--cache-dir", "--directory", "--project", "--config-file", "--color", "--python", "-p",
	"--python-preference", "--allow-insecure-host", "--index", "--default-index", "--index-url", "-i",
	"--extra-index-url", "--find-links", "-f", "--link-mode", "--with", "--with-requirements", "--with-editable",
	"--from", "--package", "--extra", "--group", "--only-group", "--env-file", "--no-group",
}

// Subcommands that download (or build) into the cache; "pip …" and
// "tool …" by their second word.
var uvDownloads = map[string]bool{
	"sync": true, "lock": true, "add": true, "remove": true, "run": true, "export": true, "tree": true,
	"build": true, "venv": true, "pip install": true, "pip sync": true, "pip compile": true,
	"pip download": true, "tool install": true, "tool run": true, "tool upgrade": true,
}

// uvSub returns uv's subcommand ("sync", "pip install") and the index of
// its last word.
func uvSub(argv []shell.Word, from int) (string, int) {
	rest, ok := shell.SkipOptions(argv[from:], "pi", uvValued)
	if !ok || len(rest) == 0 || !rest[0].Known {
		return "", -1
	}
	sub := rest[0].Val
	if sub == "pip" || sub == "tool" || sub == "cache" || sub == "python" {
		if r2, ok := shell.SkipOptions(rest[1:], "pi", uvValued); ok && len(r2) > 0 && r2[0].Known {
			return sub + " " + r2[0].Val, len(argv) - len(r2)
		}
	}
	return sub, len(argv) - len(rest)
}

func init() {
	register(manager{
		Name:          "uv",
		Programs:      []string{"uv", "uvx"},
		CacheVars:     []string{"UV_CACHE_DIR"},
		CachePrograms: []string{"uv"},
		StepEnv:       []string{"UV_LINK_MODE"},
		Analyze:       analyzeUv,
	})
}

var uvCLI = cli{
	sub: func(c call) string {
		if c.prog == "uvx" {
			return "tool run"
		}
		sub, _ := uvSub(c.Argv, c.from)
		return sub
	},
	fetches: uvDownloads,
	cache:   firstOf(flagDir("--cache-dir", "", false), envDir("UV_CACHE_DIR", ""), xdgDir("XDG_CACHE_HOME", "uv", ".cache/uv")),
	mounts: func(call, string) []mount {
		return []mount{{}, {dir: uvBuiltBucket, built: true, inside: true}}
	},
	sharing: Shared,
	check:   uvCheck,
	off: func(w shell.Word) bool {
		return w.Known && (w.Val == "--no-cache" || w.Val == "-n" || w.Val == "--no-cache-dir" ||
			strings.HasPrefix(w.Val, "--no-cache="))
	},
	offWords: func(c call) []shell.Word {
		subWords := 0
		if c.prog == "uv" {
			subWords = len(strings.Fields(c.sub))
		}
		runs := c.sub == "run" || c.sub == "tool run"
		return toolWords(c.Argv, c.from, subWords, runs, uvValued)
	},
	offEnv: []string{"UV_NO_CACHE"},
	clears: clearsOn("cache clean", "cache prune", "clean"),
}

// uvCheck blocks the cache of a command that would link into it or run
// from the image's.
func uvCheck(t *task, c call, dir string) string {
	if v, found, _ := shell.FindFlag(c.Argv, c.from, "--link-mode", "", false); found && v != "copy" {
		t.block(dir, "`"+shell.OneLine(c.Raw)+"` sets --link-mode "+v)
	}
	if v, set, known := c.Env.Get("UV_LINK_MODE"); set && c.Env["UV_LINK_MODE"].Site != nil && (!known || v != "copy") {
		t.block(dir, "the script sets UV_LINK_MODE="+v)
	}
	if shell.HasWord(c.Argv, c.from, "--offline") || truthy(c.Env["UV_OFFLINE"].Val) {
		t.block(dir, "`"+shell.OneLine(c.Raw)+"` runs offline from the image's cache")
	}
	return ""
}

func analyzeUv(t *task) {
	var targets []string
	for _, f := range uvCLI.run(t) {
		targets = append(targets, f.dir)
	}
	if len(targets) == 0 {
		return
	}
	t.afterMount(func(m mounted) {
		if m.anyOf(targets) {
			m.setEnv("UV_LINK_MODE", "copy")
		}
	})
}
