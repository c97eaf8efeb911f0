package pkgmgr

import (
	"sort"
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// pnpm keeps every package file once, in a content-addressable store, and
// copies (or hardlinks, on the same filesystem) them into node_modules. The
// store is <store-dir>/v3 or /v10: --store-dir, the store-dir setting
// (npm_config_store_dir / pnpm_config_store_dir in the environment), else
// <pnpm home>/store with pnpm home = PNPM_HOME, $XDG_DATA_HOME/pnpm or
// ~/.local/share/pnpm (@pnpm/store-path; pnpm places the store next to the
// project's filesystem, and the home dir is on the rootfs, like the
// project). (pnpm 6 and older used ~/.pnpm-store: not mounted, they go
// uncached.) pnpm.io/docker recommends exactly this mount (PNPM_HOME=/pnpm,
// target=/pnpm/store).
//
// Across the mount pnpm can't hardlink and copies ("cross-device link not
// permitted … falling back to copying"): node_modules stays self-contained.
// pnpm 10.12's enableGlobalVirtualStore would instead link node_modules into
// the store: when the environment turns it on, the step is left alone (a
// pnpm-workspace.yaml setting we can't see).
//
// `pnpm store prune` goes once the store is mounted.
//
// Sharing: shared. The store is content-addressed and written atomically
// (temporary file, then rename), made to be shared by concurrent installs.

var pnpmDownloads = map[string]bool{
	"install": true, "i": true, "add": true, "update": true, "up": true, "upgrade": true, "fetch": true,
	"dlx": true, "import": true, "deploy": true, "install-test": true, "it": true, "remove": true, "rm": true,
	"uninstall": true, "un": true, "store add": true,
}

var pnpmValued = []string{
	"-C", "--dir", "-w", "--workspace-root", "--filter", "-F", "--store-dir", "--reporter", "--loglevel",
	"--virtual-store-dir", "--modules-dir", "--registry", "--config.store-dir",
}

func pnpmSub(c call) string {
	if c.prog == "pnpx" {
		return "dlx"
	}
	return subIn("CF", pnpmValued, "store")(c)
}

// pnpmSetting reads a pnpm setting from the environment (pnpm_config_* and,
// case-insensitively, npm_config_*).
func pnpmSetting(env shell.Vars, key string) (shell.Value, string, bool) {
	var names []string
	for k := range env {
		if strings.EqualFold(k, "npm_config_"+key) || k == "pnpm_config_"+key {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return shell.Value{}, "", false
	}
	return env[names[len(names)-1]], names[len(names)-1], true
}

// pnpmStoreSetting is the store-dir setting in the environment.
func pnpmStoreSetting(c call) (string, bool, bool, string) {
	v, name, ok := pnpmSetting(c.Env, "store_dir")
	if !ok {
		return "", false, false, ""
	}
	if !v.Known {
		return "", true, false, name + " is not a literal"
	}
	d, ok, why := absDir(name+"="+v.Val, v.Val, "")
	return d, true, ok, why
}

func init() {
	register(manager{
		Name:          "pnpm",
		Programs:      []string{"pnpm", "pnpx"},
		Launchers:     []string{"corepack"},
		CacheVars:     []string{"PNPM_HOME", "npm_config_store_dir"},
		CachePrograms: []string{"pnpm"},
		Analyze:       func(t *task) { pnpmCLI.run(t) },
	})
}

var pnpmCLI = cli{
	sub:     pnpmSub,
	fetches: pnpmDownloads,
	cache: firstOf(flagDir("--store-dir", "", false), pnpmStoreSetting, envDir("PNPM_HOME", "store"),
		xdgDir("XDG_DATA_HOME", "pnpm/store", ".local/share/pnpm/store")),
	sharing: Shared,
	check: func(_ *task, c call, _ string) string {
		if v, _, set := pnpmSetting(c.Env, "enable_global_virtual_store"); set && truthy(v.Val) {
			return "the global virtual store links node_modules into the store"
		}
		return ""
	},
	clears: clearsOn("store prune"),
}
