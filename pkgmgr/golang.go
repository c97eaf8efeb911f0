package pkgmgr

import (
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// go subcommands that load modules (and may download them), and those of
// them that compile (and use the build cache).
var (
	goModules = map[string]bool{
		"build": true, "install": true, "get": true, "test": true, "run": true, "vet": true, "generate": true,
		"list": true, "tool": true, "fix": true,
		"mod download": true, "mod tidy": true, "mod vendor": true, "mod verify": true, "mod graph": true,
		"mod why": true, "work sync": true, "work vendor": true,
	}
	goCompiles = map[string]bool{
		"build": true, "install": true, "test": true, "run": true, "vet": true, "generate": true, "tool": true,
	}
)

const (
	goModCache   = "modcache"
	goBuildCache = "build cache"
)

// goSub returns the subcommand ("build", "mod download") and the index of
// its last word.
func goSub(argv []shell.Word) (string, int) {
	i := 1
	if i+1 < len(argv) && argv[i].Val == "-C" { // go -C dir build
		i += 2
	}
	if i >= len(argv) || !argv[i].Known {
		return "", -1
	}
	sub := argv[i].Val
	if (sub == "mod" || sub == "work") && i+1 < len(argv) && argv[i+1].Known {
		return sub + " " + argv[i+1].Val, i + 1
	}
	return sub, i
}

// goEnviron is what go reads settings from: the environment, then the go
// env file (`go env -w`).
func goEnviron(c *shell.Command) shell.Vars {
	v := c.GoEnv.Clone()
	for k, x := range c.Env {
		v[k] = x
	}
	return v
}

// goDir resolves GOMODCACHE (else GOPATH[0]/pkg/mod, else ~/go/pkg/mod) or
// GOCACHE (else $XDG_CACHE_HOME/go-build, else ~/.cache/go-build).
func goDir(c *shell.Command, which string) (string, bool, string) {
	env := goEnviron(c)
	if which == goModCache {
		if d, ok, why := dirSetting(env, "GOMODCACHE", ""); !ok || d != "" {
			return d, ok, why
		}
		if gp, set, known := env.Get("GOPATH"); set && gp != "" {
			first, _, _ := strings.Cut(gp, ":")
			if !known {
				return "", false, "GOPATH is not a literal"
			}
			d, ok, why := absDir("GOPATH="+gp, first, "")
			return d + "/pkg/mod", ok, why
		}
	} else {
		if v, set, known := env.Get("GOCACHE"); set && known && v == "off" {
			return "", false, "GOCACHE=off"
		}
		if d, ok, why := dirSetting(env, "GOCACHE", ""); !ok || d != "" {
			return d, ok, why
		}
		if d, ok, why := dirSetting(env, "XDG_CACHE_HOME", ""); !ok || d != "" {
			return d + "/go-build", ok, why
		}
	}
	h, ok, why := shell.Home(c.Env, c.User)
	if !ok {
		return "", false, why
	}
	if which == goModCache {
		return h + "/go/pkg/mod", true, ""
	}
	return h + "/.cache/go-build", true, ""
}

// goCleanFlags maps `go clean` flags to the cache they empty.
var goCleanFlags = map[string]string{
	"-modcache": goModCache, "-cache": goBuildCache, "-testcache": goBuildCache, "-fuzzcache": goBuildCache,
}

func init() {
	register(manager{
		Name: "go",
		// xx-go is tonistiigi/xx's cross-compiling wrapper around go.
		Programs:      []string{"go", "xx-go"},
		CacheVars:     []string{"GOCACHE", "GOMODCACHE", "GOPATH"},
		CachePrograms: []string{"go"},
		Analyze:       analyzeGo,
	})
}

func analyzeGo(t *task) {
	for _, c := range t.commands() {
		if !t.is(c) {
			continue
		}
		sub, at := goSub(c.Argv)
		switch {
		case goModules[sub]:
			t.detect()
			kinds := []string{goModCache}
			if goCompiles[sub] {
				kinds = append(kinds, goBuildCache)
			}
			for _, k := range kinds {
				d, ok, why := goDir(c, k)
				if !ok {
					t.skip(k + ": " + why)
					continue
				}
				t.want(c.User, d, Shared)
			}
		case sub == "clean":
			if items := goCleanItems(c, at); len(items) > 0 {
				t.cleanup(c, items...)
			}
		}
	}
}

// goCleanItems are the caches a `go clean` flag empties, flag by flag.
func goCleanItems(c *shell.Command, at int) []cleanItem {
	var items []cleanItem
	for i := at + 1; i < len(c.Argv); i++ {
		k := goCleanFlags[strings.TrimPrefix(c.Argv[i].Val, "-")]
		if k == "" {
			k = goCleanFlags[c.Argv[i].Val]
		}
		if k == "" || !c.Argv[i].Known {
			continue
		}
		if d, ok, _ := goDir(c, k); ok {
			items = append(items, cleanItem{word: i, targets: []string{d}})
		}
	}
	return items
}
