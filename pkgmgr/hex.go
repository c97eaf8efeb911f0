package pkgmgr

import (
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// Hex, the package manager of Elixir and Erlang, is run by `mix deps.get`
// and `mix deps.update` (also as tasks of `mix do …`). It keeps every
// package tarball it fetches in <cache home>/packages/<repo>/
// <name>-<version>.tar (Hex.SCM.cache_path in lib/hex/scm.ex) and unpacks
// it into the project's deps/. The cache home is HEX_HOME, else, with
// MIX_XDG=1 or true, Erlang's user cache dir for "hex"
// ($XDG_CACHE_HOME/hex, else ~/.cache/hex), else ~/.hex
// (Hex.Config.find_config_home; `mix help hex.config`). Only packages/ is
// mounted: the cache home also holds Hex's config (hex.config, API keys)
// and its registry cache (cache.ets).
//
// Never mounted: deps/ and _build/ (the project's), MIX_HOME (the Hex and
// rebar archives `mix local.hex` and `mix local.rebar` install).
//
// Freshness: Hex compares a cached tarball's checksum with the registry's
// before using it and fetches it again when they differ (Hex.SCM.fetch).
// HEX_OFFLINE makes it use cached tarballs only: a new cache would hide
// the image's, so none is mounted.
//
// Platform: tarballs hold sources, the same for every platform (NIFs are
// compiled into deps/ and _build/): one id for all platforms.
//
// Sharing: locked. Hex writes a fetched tarball in place (File.write! in
// Hex.SCM.do_fetch): a concurrent build could read half of it.

func init() {
	register(manager{
		Name:      "hex",
		Programs:  []string{"mix"},
		CacheVars: []string{"HEX_HOME"},
		Analyze:   func(t *task) { hexCLI.run(t) },
	})
}

var hexCLI = cli{
	sub:     hexTask,
	fetches: map[string]bool{"deps.get": true, "deps.update": true},
	cache:   firstOf(envDir("HEX_HOME", "packages"), hexXDG, homeDir(shell.Home, ".hex/packages")),
	sharing: Locked,
	check: func(t *task, c call, dir string) string {
		if v, set, known := c.Env.Get("HEX_OFFLINE"); set && (!known || truthy(v)) {
			t.block(dir, "HEX_OFFLINE: Hex uses the image's cached tarballs")
		}
		return ""
	},
}

// hexTask is the mix task that fetches, also among the tasks of `mix do
// deps.get, compile` or `mix do deps.get + compile`; else mix's task.
func hexTask(c call) string {
	args := c.Argv[c.from:]
	if len(args) == 0 || !args[0].Known {
		return ""
	}
	if args[0].Val != "do" {
		return args[0].Val
	}
	for _, w := range args[1:] {
		for _, task := range strings.Split(w.Text(), ",") {
			if task == "deps.get" || task == "deps.update" {
				return task
			}
		}
	}
	return "do"
}

// hexXDG: with MIX_XDG=1 or true, Hex's cache home is Erlang's user cache
// dir (filename:basedir(user_cache, "hex")).
func hexXDG(c call) (string, bool, bool, string) {
	v, set, known := c.Env.Get("MIX_XDG")
	switch {
	case !set:
		return "", false, false, ""
	case !known:
		return "", true, false, "MIX_XDG is not a literal"
	case v != "1" && v != "true":
		return "", false, false, ""
	}
	return xdgDir("XDG_CACHE_HOME", "hex/packages", ".cache/hex/packages")(c)
}
