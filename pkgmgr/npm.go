package pkgmgr

import (
	"sort"
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// npm subcommands (and their aliases and typo aliases) that fetch packages.
var npmDownloads = map[string]bool{
	"install": true, "i": true, "in": true, "ins": true, "inst": true, "insta": true, "instal": true,
	"isnt": true, "isnta": true, "isntal": true, "isntall": true, "add": true,
	"ci": true, "clean-install": true, "ic": true, "install-clean": true, "isntall-clean": true,
	"install-ci-test": true, "cit": true, "clean-install-test": true, "sit": true,
	"install-test": true, "it": true, "update": true, "up": true, "upgrade": true, "udpate": true,
	"exec": true, "x": true, "dedupe": true, "ddp": true,
}

// npm options that take a value as the next word.
var npmValued = []string{
	"--prefix", "-C", "--cache", "--registry", "--userconfig", "--globalconfig", "--loglevel", "--workspace",
	"-w", "--omit", "--include", "--tag", "--location", "--otp", "--scope", "--before", "--install-strategy",
	"--only", "--also", "--proxy", "--https-proxy", "--noproxy", "--cafile", "--script-shell",
}

// npmSub returns npm's subcommand and the index of its word.
func npmSub(argv []shell.Word, from int) (string, int) {
	for i := from; i < len(argv); i++ {
		a := argv[i]
		switch {
		case !a.Known:
			return "", -1
		case a.Val == "--":
			return "", -1
		case strings.HasPrefix(a.Val, "-"):
			for _, v := range npmValued {
				if a.Val == v {
					i++
				}
			}
		default:
			return a.Val, i
		}
	}
	return "", -1
}

// npmCacheDir: --cache, else npm_config_cache (any case), else ~/.npm.
func npmCacheDir(c *shell.Command) (string, bool, string) {
	h, hok, hwhy := shell.Home(c.Env, c.User)
	tilde := ""
	if hok {
		tilde = h
	}
	for i, a := range c.Argv {
		switch {
		case a.Known && a.Val == "--cache" && i+1 < len(c.Argv):
			v := c.Argv[i+1]
			if !v.Known {
				return "", false, "--cache is not a literal"
			}
			return absDir("--cache "+v.Val, v.Val, tilde)
		case a.Known && strings.HasPrefix(a.Val, "--cache="):
			v := strings.TrimPrefix(a.Val, "--cache=")
			return absDir("--cache="+v, v, tilde)
		}
	}
	// npm reads npm_config_* case-insensitively; sorted for a stable pick.
	var keys []string
	for k := range c.Env {
		if strings.EqualFold(k, "npm_config_cache") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := c.Env[k]
		if !v.Known {
			return "", false, k + " is not a literal"
		}
		return absDir(k+"="+v.Val, v.Val, tilde)
	}
	if !hok {
		return "", false, hwhy
	}
	return h + "/.npm", true, ""
}

func init() {
	register(manager{
		Name:          "npm",
		Programs:      []string{"npm", "npx"},
		CacheVars:     []string{"npm_config_cache", "NPM_CONFIG_CACHE"},
		CacheVarsFold: []string{"npm_config_cache"},
		CachePrograms: []string{"npm"},
		// node images ship /root/.npm/_logs.
		Skeleton: map[string][]string{"": {"_logs/", "_update-notifier-last-checked"}},
		Analyze:  analyzeNpm,
	})
}

func analyzeNpm(t *task) {
	for _, c := range t.commands() {
		if !t.is(c) {
			continue
		}
		sub, at := "exec", -1 // npx
		if c.Name == "npm" {
			sub, at = npmSub(c.Argv, 1)
		}
		switch {
		case npmDownloads[sub]:
			t.detect()
			dir, ok, why := npmCacheDir(c)
			if !ok {
				t.skip(why)
				continue
			}
			t.want(c.User, dir, Shared)
		case sub == "cache":
			if op, _ := npmSub(c.Argv, at+1); op == "clean" || op == "clear" || op == "rm" {
				if dir, ok, _ := npmCacheDir(c); ok {
					t.clears(c, dir)
				}
			}
		}
	}
}
