package pkgmgr

import (
	"path"
	"strings"
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
func uvSub(argv []word, from int) (string, int) {
	rest, ok := skipOptions(argv[from:], "pi", uvValued)
	if !ok || len(rest) == 0 || !rest[0].known {
		return "", -1
	}
	sub := rest[0].val
	if sub == "pip" || sub == "tool" || sub == "cache" || sub == "python" {
		if r2, ok := skipOptions(rest[1:], "pi", uvValued); ok && len(r2) > 0 && r2[0].known {
			return sub + " " + r2[0].val, len(argv) - len(r2)
		}
	}
	return sub, len(argv) - len(rest)
}

// uvCacheDir: --cache-dir, UV_CACHE_DIR, $XDG_CACHE_HOME/uv, ~/.cache/uv.
func uvCacheDir(c *command, from int) (string, bool, string) {
	if d, found, known := findFlag(c.argv, from, "--cache-dir", "", false); found {
		if !known {
			return "", false, "--cache-dir is not a literal"
		}
		return absDir("--cache-dir "+d, d, "")
	}
	if d, ok, why := dirSetting(c.env, "UV_CACHE_DIR", ""); !ok || d != "" {
		return d, ok, why
	}
	return userDir(c.env, c.user, "XDG_CACHE_HOME", "uv", ".cache/uv")
}

func isUvNoCache(w word) bool {
	return w.known && (w.val == "--no-cache" || w.val == "-n" || w.val == "--no-cache-dir" ||
		strings.HasPrefix(w.val, "--no-cache="))
}

func analyzeUv(a *analysis) {
	var uses []offUse
	var targets []string
	for _, c := range a.cmds {
		name, from := program(c)
		sub, subWords := "", 0
		switch name {
		case "uv":
			sub, _ = uvSub(c.argv, from)
			subWords = len(strings.Fields(sub))
		case "uvx":
			sub = "tool run"
		default:
			continue
		}
		runs := sub == "run" || sub == "tool run"
		dir, ok, why := uvCacheDir(c, from)
		switch {
		case uvDownloads[sub]:
			a.detect("uv")
			if !ok {
				a.skip("uv", why)
				continue
			}
			if v, found, _ := findFlag(c.argv, from, "--link-mode", "", false); found && v != "copy" {
				a.bad[dir] = "`" + oneLine(c.raw) + "` sets --link-mode " + v
			}
			if v, set, known := c.env.get("UV_LINK_MODE"); set && c.env["UV_LINK_MODE"].site != nil && (!known || v != "copy") {
				a.bad[dir] = "the script sets UV_LINK_MODE=" + v
			}
			if hasWord(c.argv, from, "--offline") || truthy(c.env["UV_OFFLINE"].val) {
				a.bad[dir] = "`" + oneLine(c.raw) + "` runs offline from the image's cache"
			}
			a.want("uv", c.user, dir, Shared)
			a.wantBuilt("uv", c.user, dir, path.Join(dir, uvBuiltBucket), Shared)
			targets = append(targets, dir)
			var off []word
			for _, w := range toolWords(c.argv, from, subWords, runs, uvValued) {
				if isUvNoCache(w) {
					off = append(off, w)
				}
			}
			uses = append(uses, offUse{c: c, target: dir, words: off})
		case (sub == "cache clean" || sub == "cache prune" || sub == "clean") && ok:
			a.addCleanup("uv", c, cleanItem{word: -1, targets: []string{dir}})
		}
	}
	if len(targets) == 0 {
		return
	}
	a.dropOffSwitches("uv", []string{"UV_NO_CACHE"}, uses)
	a.finish = append(a.finish, func(mounted map[string]bool) {
		for _, t := range targets {
			if mounted[t] {
				a.setStepEnv("uv", "UV_LINK_MODE", "copy")
				return
			}
		}
	})
}
