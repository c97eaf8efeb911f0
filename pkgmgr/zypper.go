package pkgmgr

import (
	"path"
)

// zypper (openSUSE, SLE) keeps raw repository metadata (/var/cache/zypp/raw),
// solver caches (solv) and downloaded packages (packages) under
// /var/cache/zypp. Only the package cache is mounted: metadata stays where
// upstream has it and is refreshed as upstream refreshes it (autorefresh
// repos check it, others are used as they are), so a cached copy can never
// be staler than the image's own. A cached package is reused only when the
// fresh metadata names the same file, and libzypp checks its checksum.
//
// libzypp deletes downloaded packages after the commit unless the repo has
// keeppackages=1 or, since libzypp 17.35.19 (2025), a file named
// .keep_packages exists at the top of the package cache
// (RepoInfo::effectiveKeepPackages). We bind an empty one there for the
// step; older libzypp ignore it (the cache then keeps nothing, harmlessly).
// The repo files in the image are not touched.
//
// `zypper clean` without options cleans only packages (dropped);
// `--all`/`-a` cleans metadata too, so it becomes `--metadata --raw-metadata`
// (zypper's clean_repos: packages are cleaned when `all` or when neither
// metadata flag is given).
//
// Sharing: locked. libzypp's lock is /run/zypp.pid in the root, so builds
// don't see each other's.
const (
	zypperPkgCache = "/var/cache/zypp/packages"
	zypperKeepFile = ".keep_packages"
)

var zypperValued = []string{
	"-D", "--reposd-dir", "-C", "--cache-dir", "--raw-cache-dir", "--solv-cache-dir", "--pkg-cache-dir",
	"-R", "--root", "--installroot", "--userdata", "-c", "--config", "-p", "--plus-repo", "--plus-content",
	"--releasever",
}

var zypperDownloads = map[string]bool{
	"install": true, "in": true, "update": true, "up": true, "dist-upgrade": true, "dup": true, "patch": true,
	"source-install": true, "si": true, "install-new-recommends": true, "inr": true, "download": true,
}

func zypperSub(argv []word) (string, int) {
	rest, ok := skipOptions(argv[1:], "DCRcp", zypperValued)
	if !ok || len(rest) == 0 || !rest[0].known {
		return "", -1
	}
	return rest[0].val, len(argv) - len(rest)
}

// zypperPkgDir is where a command keeps packages: --pkg-cache-dir, else
// --cache-dir/packages, else the default.
func zypperPkgDir(c *command, at int) (string, bool, string) {
	global := c.argv[:at]
	if d, found, known := findFlag(global, 1, "--pkg-cache-dir", "", false); found {
		if !known {
			return "", false, "--pkg-cache-dir is not a literal"
		}
		return absDir("--pkg-cache-dir "+d, d, "")
	}
	if d, found, known := findFlag(global, 1, "--cache-dir", "-C", false); found {
		if !known {
			return "", false, "--cache-dir is not a literal"
		}
		d, ok, why := absDir("--cache-dir "+d, d, "")
		return path.Join(d, "packages"), ok, why
	}
	return zypperPkgCache, true, ""
}

func analyzeZypper(a *analysis) {
	var targets []string
	var alls []word // `clean --all` words to rewrite
	var allCmds []*command
	for _, c := range a.cmds {
		if c.name != "zypper" {
			continue
		}
		sub, at := zypperSub(c.argv)
		if sub == "" {
			continue
		}
		if _, found, _ := findFlag(c.argv[:at], 1, "--root", "-R", false); found {
			continue // another root (and its cache): left alone
		}
		if _, found, _ := findFlag(c.argv[:at], 1, "--installroot", "", false); found {
			continue
		}
		dir, ok, why := zypperPkgDir(c, at)
		switch {
		case zypperDownloads[sub]:
			a.detect("zypper")
			if c.user.kind == numericUser {
				a.skip("zypper", "`"+oneLine(c.raw)+"` runs as user "+c.user.spec) // needs root
				return
			}
			if !ok {
				a.skip("zypper", why)
				continue
			}
			a.want("zypper", c.user, dir, Locked)
			targets = append(targets, dir)
		case (sub == "clean" || sub == "cc") && ok:
			all, meta := false, false
			for _, w := range c.argv[at+1:] {
				switch {
				case !w.known:
				case w.val == "-a" || w.val == "--all":
					all = true
					alls = append(alls, w)
					allCmds = append(allCmds, c)
				case w.val == "-m" || w.val == "--metadata" || w.val == "-M" || w.val == "--raw-metadata":
					meta = true
				}
			}
			if !all && !meta {
				a.addCleanup("zypper", c, cleanItem{word: -1, targets: []string{dir}})
			}
			for _, w := range alls {
				if wordReplace(w, "x") == nil || w.elem {
					a.bad[dir] = "can't rewrite `" + oneLine(c.raw) + "` to keep packages"
				}
			}
		}
	}
	if len(targets) == 0 {
		return
	}
	a.finish = append(a.finish, func(mounted map[string]bool) {
		hit := false
		seen := map[string]bool{}
		for _, t := range targets {
			if !mounted[t] || seen[t] {
				continue
			}
			hit, seen[t] = true, true
			a.files = append(a.files, FileMount{Manager: "zypper", Target: path.Join(t, zypperKeepFile), Contents: []byte{}})
			a.note("zypper", "kept downloaded packages ("+path.Join(t, zypperKeepFile)+")")
		}
		if !hit {
			return
		}
		for i, w := range alls {
			a.edits = append(a.edits, wordReplace(w, "--metadata --raw-metadata"))
			a.note("zypper", "replaced "+w.raw+" by --metadata --raw-metadata in `"+oneLine(allCmds[i].raw)+"`")
		}
	})
}
