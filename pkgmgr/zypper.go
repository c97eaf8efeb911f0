package pkgmgr

import (
	"path"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
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

func zypperSub(argv []shell.Word) (string, int) {
	rest, ok := shell.SkipOptions(argv[1:], "DCRcp", zypperValued)
	if !ok || len(rest) == 0 || !rest[0].Known {
		return "", -1
	}
	return rest[0].Val, len(argv) - len(rest)
}

// zypperPkgDir is where a command keeps packages: --pkg-cache-dir, else
// --cache-dir/packages, else the default.
func zypperPkgDir(c *shell.Command, at int) (string, bool, string) {
	global := c.Argv[:at]
	if d, found, known := shell.FindFlag(global, 1, "--pkg-cache-dir", "", false); found {
		if !known {
			return "", false, "--pkg-cache-dir is not a literal"
		}
		return absDir("--pkg-cache-dir "+d, d, "")
	}
	if d, found, known := shell.FindFlag(global, 1, "--cache-dir", "-C", false); found {
		if !known {
			return "", false, "--cache-dir is not a literal"
		}
		d, ok, why := absDir("--cache-dir "+d, d, "")
		return path.Join(d, "packages"), ok, why
	}
	return zypperPkgCache, true, ""
}

func init() {
	register(manager{
		Name:     "zypper",
		Programs: []string{"zypper"},
		// Packages are stored per arch already; locked, so sharing only
		// makes the platforms wait for each other.
		PerPlatform: true,
		Local:       true,
		Analyze:     analyzeZypper,
	})
}

// zypperAll is a `clean --all` word to rewrite, and its command.
type zypperAll struct {
	c *shell.Command
	w shell.Word
}

func analyzeZypper(t *task) {
	var targets []string
	var alls []zypperAll
	for _, c := range t.commands() {
		if !t.is(c) {
			continue
		}
		sub, at := zypperSub(c.Argv)
		if sub == "" || zypperOtherRoot(c, at) {
			continue
		}
		dir, ok, why := zypperPkgDir(c, at)
		switch {
		case zypperDownloads[sub]:
			t.detect()
			if c.User.Kind == shell.NumericUser {
				t.skip("`" + shell.OneLine(c.Raw) + "` runs as user " + c.User.Spec) // needs root
				return
			}
			if !ok {
				t.skip(why)
				continue
			}
			t.want(c.User, dir, Locked)
			targets = append(targets, dir)
		case (sub == "clean" || sub == "cc") && ok:
			alls = zypperClean(t, c, at, dir, alls)
		}
	}
	if len(targets) > 0 {
		t.afterMount(func(m mounted) { zypperKeep(m, targets, alls) })
	}
}

// zypperOtherRoot: another root (and its cache) is left alone.
func zypperOtherRoot(c *shell.Command, at int) bool {
	if _, found, _ := shell.FindFlag(c.Argv[:at], 1, "--root", "-R", false); found {
		return true
	}
	_, found, _ := shell.FindFlag(c.Argv[:at], 1, "--installroot", "", false)
	return found
}

// zypperClean reads `zypper clean`: without options it cleans only
// packages (dropped once mounted); --all is rewritten to keep them.
func zypperClean(t *task, c *shell.Command, at int, dir string, alls []zypperAll) []zypperAll {
	all, meta := false, false
	for _, w := range c.Argv[at+1:] {
		switch {
		case !w.Known:
		case w.Val == "-a" || w.Val == "--all":
			all = true
			alls = append(alls, zypperAll{c, w})
		case w.Val == "-m" || w.Val == "--metadata" || w.Val == "-M" || w.Val == "--raw-metadata":
			meta = true
		}
	}
	if !all && !meta {
		t.clears(c, dir)
	}
	for _, a := range alls {
		if shell.ReplaceWord(a.w, "x") == nil || a.w.Elem {
			t.block(dir, "can't rewrite `"+shell.OneLine(c.Raw)+"` to keep packages")
		}
	}
	return alls
}

// zypperKeep binds .keep_packages into each mounted package cache and
// turns `clean --all` into `clean --metadata --raw-metadata`.
func zypperKeep(m mounted, targets []string, alls []zypperAll) {
	hit := false
	seen := map[string]bool{}
	for _, t := range targets {
		if !m.has(t) || seen[t] {
			continue
		}
		hit, seen[t] = true, true
		m.file(path.Join(t, zypperKeepFile), []byte{})
		m.note("kept downloaded packages (" + path.Join(t, zypperKeepFile) + ")")
	}
	if !hit {
		return
	}
	for _, a := range alls {
		m.edit(shell.ReplaceWord(a.w, "--metadata --raw-metadata"))
		m.note("replaced " + a.w.Raw + " by --metadata --raw-metadata in `" + shell.OneLine(a.c.Raw) + "`")
	}
}
