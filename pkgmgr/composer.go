package pkgmgr

import (
	"path"
)

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

var composerNames = map[string]bool{"composer": true, "composer.phar": true}

var composerDownloads = map[string]bool{
	"install": true, "i": true, "update": true, "u": true, "upgrade": true, "require": true, "r": true,
	"create-project": true, "reinstall": true, "remove": true, "rm": true, "global": true,
}

func composerSub(argv []word, from int) string {
	rest, ok := skipOptions(argv[from:], "d", []string{"-d", "--working-dir"})
	if !ok || len(rest) == 0 || !rest[0].known {
		return ""
	}
	return rest[0].val
}

// composerCache: the cache of a command, and whether we must set
// COMPOSER_CACHE_DIR for the step to make it so.
func composerCache(c *command) (dir string, set, ok bool, why string) {
	devNull := false
	if v, isSet, known := c.env.get("COMPOSER_CACHE_DIR"); isSet && (v != "" || !known) {
		if !known || v != "/dev/null" {
			d, ok, why := dirSetting(c.env, "COMPOSER_CACHE_DIR", "")
			return d, false, ok, why
		}
		if c.env["COMPOSER_CACHE_DIR"].site != nil {
			return "", false, false, "the step sets COMPOSER_CACHE_DIR=/dev/null"
		}
		devNull = true // the image's: replaced for the step
	}
	if d, ok, why := dirSetting(c.env, "COMPOSER_HOME", ""); !ok || d != "" {
		return path.Join(d, "cache"), devNull, ok, why
	}
	d, ok, why := userDir(c.env, c.user, "XDG_CACHE_HOME", "composer", ".cache/composer")
	return d, true, ok, why
}

func analyzeComposer(a *analysis) {
	var uses []offUse
	var setFor []string
	for _, c := range a.cmds {
		name, from := program(c)
		if !composerNames[name] {
			continue
		}
		sub := composerSub(c.argv, from)
		dir, set, ok, why := composerCache(c)
		switch {
		case composerDownloads[sub]:
			a.detect("composer")
			if !ok {
				a.skip("composer", why)
				continue
			}
			var off []word
			for _, w := range toolWords(c.argv, from, 0, false, nil) {
				if w.known && w.val == "--no-cache" {
					off = append(off, w)
				}
			}
			a.want("composer", c.user, dir, Locked)
			uses = append(uses, offUse{c: c, target: dir, words: off})
			if set {
				setFor = append(setFor, dir)
			}
		case (sub == "clear-cache" || sub == "clearcache" || sub == "cc") && ok:
			a.addCleanup("composer", c, cleanItem{word: -1, targets: []string{dir}})
		}
	}
	if len(uses) == 0 {
		return
	}
	for _, d := range setFor {
		if d != setFor[0] {
			for _, d := range setFor {
				a.bad[d] = "commands of the step would need different COMPOSER_CACHE_DIR values"
			}
			break
		}
	}
	a.dropOffSwitches("composer", nil, uses)
	a.finish = append(a.finish, func(mounted map[string]bool) {
		for _, d := range setFor {
			if mounted[d] {
				a.setStepEnv("composer", "COMPOSER_CACHE_DIR", d)
				return
			}
		}
	})
}
