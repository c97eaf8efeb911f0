package pkgmgr

import "path"

// Composer's cache (downloaded dist archives, repository metadata, VCS
// mirrors) is COMPOSER_CACHE_DIR, else $COMPOSER_HOME/cache; without
// either, Composer picks between ~/.composer/cache and
// $XDG_CACHE_HOME/composer (~/.cache/composer) by looking at the
// filesystem (Factory::getCacheDir: does ~/.composer/cache exist, does
// /etc/xdg?). We can't look, so for such a step we set
// COMPOSER_CACHE_DIR to the XDG location (Composer's own choice on XDG
// systems) and mount that; the image's COMPOSER_HOME, config and global
// packages are untouched. The composer image sets COMPOSER_HOME=/tmp, so
// /tmp/cache.
//
// Never mounted: vendor/ and $COMPOSER_HOME/vendor (global packages).
//
// Turned off by --no-cache (dropped) and COMPOSER_CACHE_DIR=/dev/null
// (replaced when it comes from the image's env, left alone when the step
// sets it). `composer clear-cache` (clearcache, cc) goes.
//
// Sharing: locked. Composer copies archives into the cache with a plain
// copy() (Cache::copyFrom): a second build could read a half-written zip.

var composerDownloads = map[string]bool{
	"install": true, "i": true, "update": true, "u": true, "upgrade": true, "require": true, "r": true,
	"create-project": true, "reinstall": true, "remove": true, "rm": true, "global": true,
}

// composerCache: the cache of a command, and whether we must set
// COMPOSER_CACHE_DIR for the step to make it so.
func composerCache(c call) (dir string, set, ok bool, why string) {
	devNull := false
	if v, isSet, known := c.Env.Get("COMPOSER_CACHE_DIR"); isSet && (v != "" || !known) {
		if !known || v != "/dev/null" {
			d, ok, why := dirSetting(c.Env, "COMPOSER_CACHE_DIR", "")
			return d, false, ok, why
		}
		if c.Env["COMPOSER_CACHE_DIR"].Site != nil {
			return "", false, false, "the step sets COMPOSER_CACHE_DIR=/dev/null"
		}
		devNull = true // the image's: replaced for the step
	}
	if d, ok, why := dirSetting(c.Env, "COMPOSER_HOME", ""); !ok || d != "" {
		return path.Join(d, "cache"), devNull, ok, why
	}
	d, ok, why := userDir(c.Env, c.User, "XDG_CACHE_HOME", "composer", ".cache/composer")
	return d, true, ok, why
}

func init() {
	register(manager{
		Name:          "composer",
		Programs:      []string{"composer", "composer.phar"},
		Launchers:     []string{"phpX.Y"},
		CacheVars:     []string{"COMPOSER_HOME", "COMPOSER_CACHE_DIR"},
		CachePrograms: []string{"composer"},
		StepEnv:       []string{"COMPOSER_CACHE_DIR"},
		Analyze:       analyzeComposer,
	})
}

var composerCLI = cli{
	sub:     subIn("d", []string{"-d", "--working-dir"}),
	fetches: composerDownloads,
	cache: func(c call) (string, bool, string) {
		dir, _, ok, why := composerCache(c)
		return dir, ok, why
	},
	sharing: Locked,
	off:     flagIn("--no-cache"),
	clears:  clearsOn("clear-cache", "clearcache", "cc"),
}

// analyzeComposer also sets COMPOSER_CACHE_DIR for the step where Composer
// would pick its cache by looking at the filesystem (composerCache).
func analyzeComposer(t *task) {
	var setFor []string
	for _, f := range composerCLI.run(t) {
		if _, set, _, _ := composerCache(f.c); set {
			setFor = append(setFor, f.dir)
		}
	}
	for _, d := range setFor {
		if d != setFor[0] {
			for _, d := range setFor {
				t.block(d, "commands of the step would need different COMPOSER_CACHE_DIR values")
			}
			break
		}
	}
	if len(setFor) == 0 {
		return
	}
	t.afterMount(func(m mounted) {
		for _, d := range setFor {
			if m.has(d) {
				m.setEnv("COMPOSER_CACHE_DIR", d)
				return
			}
		}
	})
}
