package pkgmgr

import (
	"path"
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// `gem install` downloads each .gem into <install dir>/cache before
// installing it into the same install dir: --install-dir/-i, else
// GEM_HOME (the ruby image sets /usr/local/bundle). Without either the
// install dir is RubyGems' default (/usr/local/lib/ruby/gems/X.Y.0,
// /var/lib/gems/X.Y.0, …), which depends on how Ruby was built: no cache.
// --user-install goes to a per-version user dir: no cache either.
//
// Only <install dir>/cache is mounted: RubyGems keeps the downloaded .gem
// files there (for pristine/reinstall); the installed gems (gems/,
// specifications/, extensions/, bin/) are product. Never mounted:
// GEM_HOME itself.
//
// Sharing: locked. RubyGems writes the .gem file in place (no temporary
// name, no lock): a concurrent build could install a half-written file.

var gemDownloads = map[string]bool{"install": true, "i": true, "update": true, "fetch": false}

// rubyABI is the directory name Ruby uses for a version (3.4.9 → 3.4.0),
// from RUBY_VERSION (official ruby images).
func rubyABI(env shell.Vars) (string, bool) {
	v, set, known := env.Get("RUBY_VERSION")
	if !set || !known {
		return "", false
	}
	parts := strings.Split(v, ".")
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" || strings.Trim(parts[0]+parts[1], "0123456789") != "" {
		return "", false
	}
	return parts[0] + "." + parts[1] + ".0", true
}

func gemCache(c call) (string, bool, string) {
	if d, found, known := shell.FindFlag(c.Argv, c.from, "--install-dir", "-i", false); found {
		if !known {
			return "", false, "--install-dir is not a literal"
		}
		if !path.IsAbs(d) && c.Cwd != "" {
			d = path.Join(c.Cwd, d)
		}
		d, ok, why := absDir("--install-dir "+d, d, "")
		return path.Join(d, "cache"), ok, why
	}
	if shell.HasWord(c.Argv, c.from, "--user-install") {
		return "", false, "--user-install: a per-version user dir"
	}
	return cacheInGemHome(c.Command, "RubyGems' default dir")
}

// cacheInGemHome is $GEM_HOME/cache; without GEM_HOME there is none we know
// (what is used instead, dflt, depends on the Ruby build).
func cacheInGemHome(c *shell.Command, dflt string) (string, bool, string) {
	d, ok, why := dirSetting(c.Env, "GEM_HOME", "")
	if !ok {
		return "", false, why
	}
	if d == "" {
		return "", false, "GEM_HOME not set (" + dflt + " depends on the Ruby build)"
	}
	return path.Join(d, "cache"), true, ""
}

func init() {
	register(manager{
		Name:          "gem",
		Programs:      []string{"gemX.Y"},
		CacheVars:     []string{"GEM_HOME"},
		CachePrograms: []string{"gem", "ruby"},
		Analyze:       func(t *task) { gemCLI.run(t) },
	})
}

var gemCLI = cli{
	sub: func(c call) string {
		if shell.HasWord(c.Argv, c.from, "--local", "-l") {
			return "" // installs from what is already there
		}
		return subIn("", nil)(c)
	},
	fetches: gemDownloads,
	cache:   gemCache,
	sharing: Locked,
}
