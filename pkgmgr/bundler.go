package pkgmgr

import (
	"path"
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// Bundler downloads each .gem into the cache/ of the directory it installs
// to (Bundler::Source::Rubygems), then installs from there:
//   - no path configured: the system gems, GEM_HOME (the ruby image's
//     /usr/local/bundle), so $GEM_HOME/cache;
//   - a path (BUNDLE_PATH, --path, `bundle config set path`, or
//     vendor/bundle for deployment mode): <path>/ruby/<ABI>/cache, ABI
//     from RUBY_VERSION (3.4.9 → 3.4.0).
// Settings are looked up the way Bundler does: command-line flags, then the
// app's config (`bundle config set --local` earlier in the step), then
// BUNDLE_* variables, then the global config (`bundle config set` in the
// step). A .bundle/config shipped with the sources may override; the mount
// is then unused, never wrong.
//
// Only that cache/ is mounted; the installed gems next to it, the
// bundler/gems/ checkouts of git gems and vendor/cache (`bundle cache`
// output) are product. Bundler's own `--no-cache` is about vendor/cache, not
// this cache: left alone.
//
// Sharing: locked, as for gem (RubyGems' fetcher writes the .gem in place).

var bundlerDownloads = map[string]bool{
	"install": true, "update": true, "add": true, "cache": true, "package": true, "pack": true,
}

// bundlerConf is what the step's `bundle config` commands set so far.
type bundlerConf struct {
	path       *string
	deployment bool
	system     bool
}

func (b *bundlerConf) set(key, val string) {
	switch key {
	case "path", "BUNDLE_PATH":
		b.path = &val
	case "deployment", "BUNDLE_DEPLOYMENT":
		b.deployment = truthy(val)
	case "path.system", "BUNDLE_PATH__SYSTEM":
		b.system = truthy(val)
	}
}

func (b *bundlerConf) has() bool { return b.path != nil || b.deployment || b.system }

// bundlerConfig reads `bundle config [set|unset] [--local|--global] NAME VALUE`.
func bundlerConfig(c *shell.Command, from int, local, global *bundlerConf) {
	args := c.Argv[from+1:]
	level := global
	var words []string
	for _, w := range args {
		switch {
		case !w.Known:
			return
		case w.Val == "--local":
			level = local
		case w.Val == "--global":
			level = global
		case w.Val == "set":
		case w.Val == "unset" || w.Val == "get" || w.Val == "list" || strings.HasPrefix(w.Val, "--"):
			return
		default:
			words = append(words, w.Val)
		}
	}
	if len(words) >= 2 {
		level.set(words[0], strings.Join(words[1:], " "))
	}
}

func bundlerCache(c *shell.Command, from int, local, global *bundlerConf) (string, bool, string) {
	flags := &bundlerConf{}
	if v, found, known := shell.FindFlag(c.Argv, from, "--path", "", false); found {
		if !known {
			return "", false, "--path is not a literal"
		}
		flags.path = &v
	}
	flags.deployment = shell.HasWord(c.Argv, from, "--deployment")
	flags.system = shell.HasWord(c.Argv, from, "--system")
	env := &bundlerConf{}
	for _, k := range []string{"BUNDLE_PATH", "BUNDLE_DEPLOYMENT", "BUNDLE_PATH__SYSTEM"} {
		if v, set, known := c.Env.Get(k); set {
			if !known {
				return "", false, k + " is not a literal"
			}
			env.set(k, v)
		}
	}
	conf := &bundlerConf{}
	for _, lv := range []*bundlerConf{flags, local, env, global} {
		if lv.has() {
			conf = lv
			break
		}
	}
	if conf.system || (conf.path == nil && !conf.deployment) {
		return cacheInGemHome(c, "the system gem dir")
	}
	p := "vendor/bundle"
	if conf.path != nil {
		p = *conf.path
	}
	if !path.IsAbs(p) {
		if c.Cwd == "" {
			return "", false, "bundle path " + p + " is relative to an unknown directory"
		}
		p = path.Join(c.Cwd, p)
	}
	abi, ok := rubyABI(c.Env)
	if !ok {
		return "", false, "Ruby's ABI version unknown (no RUBY_VERSION)"
	}
	return path.Join(p, "ruby", abi, "cache"), true, ""
}

func init() {
	register(manager{
		Name:          "bundler",
		Programs:      []string{"bundle", "bundler"},
		CacheVars:     []string{"GEM_HOME", "BUNDLE_PATH"},
		CachePrograms: []string{"bundle"},
		Analyze:       analyzeBundler,
	})
}

func analyzeBundler(t *task) {
	local, global := &bundlerConf{}, &bundlerConf{}
	for _, c := range t.commands() {
		_, from, ok := t.runs(c)
		if !ok {
			continue
		}
		rest, ok := shell.SkipOptions(c.Argv[from:], "", nil)
		if !ok || len(rest) == 0 || !rest[0].Known {
			continue
		}
		at := len(c.Argv) - len(rest)
		switch sub := rest[0].Val; {
		case sub == "config":
			bundlerConfig(c, at, local, global)
		case bundlerDownloads[sub]:
			if shell.HasWord(c.Argv, from, "--local") {
				continue // installs from what is already there
			}
			t.detect()
			dir, ok, why := bundlerCache(c, from, local, global)
			if !ok {
				t.skip(why)
				continue
			}
			t.want(c.User, dir, Locked)
		}
	}
}
