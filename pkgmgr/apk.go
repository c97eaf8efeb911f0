package pkgmgr

import (
	"path"
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// apk (Alpine) keeps downloaded packages and its APKINDEX files in
// /etc/apk/cache, but only when that directory (or a symlink to one) exists
// (apk-cache(5); apk-tools' setup_cache: "etc/apk/cache", else the static
// var/cache/apk for indexes only). The stock alpine image has none, so a
// mount there both creates and fills the cache.
//
// Freshness: with the cache on, apk reuses a cached index younger than
// --cache-max-age (4 h) — and Alpine mirrors drop superseded packages, so
// an index from another build can name files that are gone (fetch fails).
// Upstream's `apk add --no-cache` fetches the index every time; we replace
// --no-cache by --update-cache (alias of --cache-max-age 0: a conditional
// request per repository), and give -U to other downloading commands.
//
// Sharing: locked. apk's database lock is in the root (lib/apk/db/lock),
// not in the cache, and apk-tools 2 writes downloads through a fixed
// temporary name (".apknew.<file>") in the cache directory: two builds
// fetching the same package would write the same file.
const apkCache = "/etc/apk/cache"

// apk options that take a value (global and applet ones).
var apkValued = []string{
	"-X", "--repository", "-p", "--root", "--arch", "--cache-dir", "--cache-max-age", "--keys-dir",
	"--repositories-file", "--timeout", "--wait", "-t", "--virtual", "--progress-fd", "--from", "-o", "--output",
}

// apkApplet returns the applet of an apk command line and the index of its
// word, or "" when it runs none (`apk --print-arch`).
func apkApplet(argv []shell.Word) (string, int) {
	rest, ok := shell.SkipOptions(argv[1:], "Xpto", apkValued)
	if !ok || len(rest) == 0 || !rest[0].Known {
		return "", -1
	}
	return rest[0].Val, len(argv) - len(rest)
}

// apkFresh reports whether a command refreshes its indexes: -U,
// --update-cache (and --update, which getopt takes as its abbreviation),
// or --cache-max-age 0.
func apkFresh(argv []shell.Word) bool {
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if !a.Known {
			continue
		}
		switch v := a.Val; {
		case v == "--":
			return false
		case v == "--update-cache" || v == "--update" || v == "--update-c" || v == "--update-ca":
			return true
		case strings.HasPrefix(v, "--cache-max-age"):
			val, n, known := shell.FlagAt(argv, i, "--cache-max-age", "", false)
			if n > 0 && known && val == "0" {
				return true
			}
		case len(v) > 1 && v[0] == '-' && v[1] != '-' && strings.ContainsRune(v, 'U'):
			return true
		}
	}
	return false
}

func init() {
	register(manager{
		Name:     "apk",
		Programs: []string{"apk"},
		// Packages and indexes come from per-arch repositories; locked.
		PerPlatform: true,
		Local:       true,
		Analyze:     analyzeApk,
	})
}

// apkDownload is a command that downloads into the cache, and its
// --no-cache flags.
type apkDownload struct {
	c       *shell.Command
	noCache []shell.Word
}

func analyzeApk(t *task) {
	var downloads []apkDownload
	target := apkCache
	for _, c := range t.commands() {
		if c.Name == "xx-apk" {
			// xx-apk links a cross sysroot's etc/apk/cache into /etc/apk/cache
			// when that exists: with a mount there the link would stay in the image.
			t.block(apkCache, "`"+shell.OneLine(c.Raw)+"` (xx-apk) sets up its sysroot differently when "+apkCache+" exists")
			continue
		}
		if !t.is(c) {
			continue
		}
		applet, at := apkApplet(c.Argv)
		if applet == "" {
			continue
		}
		if _, found, _ := shell.FindFlag(c.Argv, 1, "--root", "-p", true); found || shell.HasWord(c.Argv, 1, "--initdb") {
			continue // another root: its cache is ROOT/etc/apk/cache, which we leave alone
		}
		sub := ""
		if applet == "cache" && at+1 < len(c.Argv) {
			sub = c.Argv[at+1].Val
		}
		switch {
		case applet == "add" || applet == "upgrade" || applet == "fix" || (applet == "cache" && (sub == "download" || sub == "sync")):
			if shell.HasWord(c.Argv, 1, "--no-network") {
				continue
			}
			t.detect()
			if c.User.Kind == shell.NumericUser {
				t.skip("`" + shell.OneLine(c.Raw) + "` runs as user " + c.User.Spec) // apk needs root
				return
			}
			if d, found, known := shell.FindFlag(c.Argv, 1, "--cache-dir", "", false); found {
				if !known || !path.IsAbs(d) {
					t.skip("--cache-dir " + d + " is not an absolute literal")
					return
				}
				target = path.Clean(d)
			}
			downloads = append(downloads, apkDownload{c, apkNoCache(c)})
			t.want(c.User, target, Locked)
		case applet == "cache" && (sub == "clean" || sub == "purge"):
			t.clears(c, target)
		case applet == "fetch" || applet == "search" || applet == "policy" || applet == "list" || applet == "dot" ||
			applet == "query" || (applet == "info" && apkInfoReadsIndex(c.Argv[at+1:])):
			if !shell.HasWord(c.Argv, 1, "--no-cache") {
				t.block(apkCache, "`"+shell.OneLine(c.Raw)+"` reads the indexes a cache mount would replace")
			}
		}
	}
	if len(downloads) > 0 {
		apkFreshIndexes(t, target, downloads)
	}
}

func apkNoCache(c *shell.Command) []shell.Word {
	var nc []shell.Word
	for _, w := range c.Argv[1:] {
		if w.Known && w.Val == "--no-cache" {
			nc = append(nc, w)
		}
	}
	return nc
}

// apkFreshIndexes makes each downloading command refresh its indexes once
// the cache is mounted: its --no-cache becomes --update-cache, or it gets
// -U.
func apkFreshIndexes(t *task, target string, downloads []apkDownload) {
	var fixes []*shell.Edit
	var notes []string
	for _, d := range downloads {
		fresh := apkFresh(d.c.Argv)
		if len(d.noCache) > 0 {
			for i, w := range d.noCache {
				var e *shell.Edit
				if fresh || i > 0 {
					e = shell.DeleteWord(w)
				} else {
					e = shell.ReplaceWord(w, "--update-cache")
				}
				if e == nil {
					notes = append(notes, "kept --no-cache in `"+shell.OneLine(d.c.Raw)+"` (inside a string it can't edit): that command doesn't use the cache")
					continue
				}
				fixes = append(fixes, e)
				if fresh || i > 0 {
					notes = append(notes, "dropped --no-cache from `"+shell.OneLine(d.c.Raw)+"`")
				} else {
					notes = append(notes, "replaced --no-cache by --update-cache in `"+shell.OneLine(d.c.Raw)+"`")
				}
			}
			continue
		}
		if fresh {
			continue
		}
		e := shell.InsertAfter(d.c.Argv[0], "-U")
		if e == nil {
			t.block(target, "can't add -U (fresh indexes) to `"+shell.OneLine(d.c.Raw)+"`")
			continue
		}
		fixes = append(fixes, e)
		notes = append(notes, "added -U to `"+shell.OneLine(d.c.Raw)+"` (fresh indexes)")
	}
	t.whenMounted([]string{target}, fixes, notes)
}

// apkInfoReadsIndex reports whether `apk info ARGS` looks packages up in
// the repositories (any name operand, unless -e/--installed).
func apkInfoReadsIndex(args []shell.Word) bool {
	names := false
	for _, w := range args {
		switch {
		case !w.Known:
			names = true
		case w.Val == "-e" || w.Val == "--installed":
			return false
		case !strings.HasPrefix(w.Val, "-"):
			names = true
		}
	}
	return names
}
