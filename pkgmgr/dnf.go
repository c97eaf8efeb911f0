package pkgmgr

import (
	"strings"

	"github.com/autocache/autocache/imagefacts"
)

// The RPM family: dnf (4 and 5), microdnf and tdnf here, yum in yum.go.
// Each keeps repository metadata and downloaded packages in one cachedir,
// root-only:
//
//	dnf 4     /var/cache/dnf       (dnf.conf cachedir)
//	dnf 5     /var/cache/libdnf5   (system_cachedir; dnf5-caching(7))
//	microdnf  /var/cache/yum       (microdnf's CACHEDIR, metadata/ solv/ lock/ under it)
//	tdnf      /var/cache/tdnf      (tdnf.conf cachedir)
//
// `dnf` is dnf 4 or dnf 5 depending on the image (Fedora 41+ ship dnf 5),
// and so can `microdnf` be, so each name gets every cachedir it may use;
// the unused ones stay empty. That matters beyond caching: a `clean all`
// we drop must not leave metadata in a directory we did not mount.
//
// Two things make the cache usable and keep it honest:
//   - keepcache is off by default everywhere (packages are deleted after the
//     transaction): `--setopt=keepcache=1` keeps them. It is a command-line
//     setting, so nothing in the image changes (a generated dnf.conf would
//     shadow the image's own settings).
//   - Upstream starts with no metadata (images ship without it) and always
//     fetches it. A cached copy is reused until metadata_expire (48 h, or a
//     repo's own value) and mirrors drop superseded packages, so `--refresh`
//     (all four tools: "set metadata as expired") makes them check repomd.xml
//     first: a small request, and unchanged metadata is kept.
//
// microdnf learned --refresh in 3.4 and --setopt=keepcache in 3.7 (upstream
// tag 3.7.0, 2021-02; before it --setopt took only a few keys and failed on
// any other): older microdnf rejects the flags, and the Dockerfile doesn't
// say which microdnf its image has. So microdnf is cached when the command
// already has both flags, or when the os-release of the image its lineage
// starts from (Step.Release) is a release that ships microdnf 3.7 or newer
// (microdnfSince); otherwise it is left alone.
//
// Sharing: locked. dnf's locks are PID files in the cachedir
// (metadata_lock.pid, download_lock.pid): PIDs from another container's
// namespace mean nothing, so concurrent builds must not meet there.

// rpmTool is one RPM-family program.
type rpmTool struct {
	mgr    string
	caches []string
	flags  []string // what the command line needs when the cache is mounted
}

var rpmTools = map[string]rpmTool{
	"dnf":      {"dnf", []string{"/var/cache/dnf", "/var/cache/libdnf5"}, dnfFlags},
	"dnf-3":    {"dnf", []string{"/var/cache/dnf"}, dnfFlags},
	"dnf4":     {"dnf", []string{"/var/cache/dnf"}, dnfFlags},
	"dnf5":     {"dnf", []string{"/var/cache/libdnf5"}, dnfFlags},
	"microdnf": {"dnf", []string{"/var/cache/libdnf5", "/var/cache/yum"}, dnfFlags},
	"tdnf":     {"dnf", []string{"/var/cache/tdnf"}, dnfFlags},
}

var dnfFlags = []string{"--refresh", "--setopt=keepcache=1"}

// microdnfSince is, per os-release ID, the first VERSION_ID whose microdnf
// is 3.7 or newer; OSRelease.VersionAtLeast compares, so a VERSION_ID without the
// minor ("8") is not enough for "8.5". Only ID counts, never ID_LIKE:
// derivatives number their own releases (Amazon Linux 2 is ID_LIKE="centos
// rhel fedora" with VERSION_ID="2"). An ID not listed stays unknown.
//
//   - rhel 8.5: RHEL 8 had microdnf 3.4.0 up to 8.4 (3.4.0-1 in 8.3, 3.4.0-4
//     in Feb 2021) and 3.8.0 from 8.5 (3.8.0-1.el8, 2021-05-19: after 8.4
//     shipped), per the el8 microdnf.spec changelog; so UBI 8.4 still
//     rejects the flags. RHEL 9 started at 3.8.0-2.el9, RHEL 10 at 3.10.1.
//   - almalinux, rocky, ol 8.5: rebuilds of the same RHEL minor releases
//     (Oracle Linux slim 8.10, 9.7, 10.1: 3.8.0-2.el8, 3.9.1-3.el9,
//     3.10.1-1.el10).
//   - centos 9: CentOS Stream 9 and 10. CentOS Linux 8 and Stream 8 say
//     only VERSION_ID="8", which covers microdnf 3.0.1 to 3.8.0.
//   - fedora 38: 3.8.0-1.fc38 in the release tree. Older Fedoras likely
//     have 3.7 as well, but that is unchecked.
var microdnfSince = map[string]string{
	"rhel":      "8.5",
	"almalinux": "8.5",
	"rocky":     "8.5",
	"ol":        "8.5",
	"centos":    "9",
	"fedora":    "38",
}

// microdnfTakesFlags says whether release is known to ship a microdnf that
// takes --refresh and --setopt=keepcache=1.
func microdnfTakesFlags(r imagefacts.OSRelease) bool {
	min, ok := microdnfSince[r.ID]
	return ok && r.VersionAtLeast(min)
}

// Subcommands that download packages. Group and module ones are matched
// on their second word.
var rpmDownloads = map[string]bool{
	"install": true, "in": true, "reinstall": true, "rei": true, "upgrade": true, "update": true, "up": true,
	"distro-sync": true, "dsync": true, "distrosync": true, "dist-upgrade": true, "downgrade": true, "dg": true,
	"localinstall": true, "localupdate": true, "upgrade-minimal": true, "update-minimal": true, "up-min": true,
	"groupinstall": true, "groupupdate": true, "groupupgrade": true, "builddep": true, "build-dep": true,
	"swap": true, "download": true, "group install": true, "group upgrade": true, "group update": true,
	"groups install": true, "module install": true, "module update": true, "module upgrade": true,
	"mod install": true,
}

var rpmValued = []string{
	"-c", "--config", "--installroot", "--releasever", "--setopt", "-d", "--debuglevel", "-e", "--errorlevel",
	"--enablerepo", "--disablerepo", "--repo", "--repoid", "-x", "--exclude", "--rpmverbosity", "--color",
	"--forcearch", "--downloaddir", "--destdir", "--comment", "--advisory", "--advisories", "--bz", "--cve",
	"--sec-severity", "--secseverity", "--repofrompath", "--enableplugin", "--disableplugin", "--excludepkgs",
	"--installonly-limit", "--use-host-config", "--from-repo", "--releasever-major", "--releasever-minor",
}

// Arguments of `clean` that only touch the cachedir.
var rpmCleanKinds = map[string]bool{
	"all": true, "packages": true, "metadata": true, "dbcache": true, "expire-cache": true, "headers": true,
	"sqlite": true, "plugins": true,
}

// rpmSub returns a command's subcommand ("install", "group install") and
// the index of its last word.
func rpmSub(argv []word) (string, int) {
	rest, ok := skipOptions(argv[1:], "cdex", rpmValued)
	if !ok || len(rest) == 0 || !rest[0].known {
		return "", -1
	}
	at := len(argv) - len(rest)
	sub := rest[0].val
	switch sub {
	case "group", "groups", "module", "mod":
		if r2, ok := skipOptions(rest[1:], "", nil); ok && len(r2) > 0 && r2[0].known {
			return sub + " " + r2[0].val, len(argv) - len(r2)
		}
	}
	return sub, at
}

// rpmHasSetopt reports whether the command sets option (e.g. "keepcache").
func rpmHasSetopt(argv []word, option string) bool {
	for i := 1; i < len(argv); i++ {
		if v, n, _ := flagAt(argv, i, "--setopt", "", false); n > 0 {
			if k, _, ok := strings.Cut(v, "="); ok && k == option {
				return true
			}
			i += n - 1
		}
	}
	return false
}

func analyzeDnf(a *analysis) { analyzeRpm(a, "dnf") }

// analyzeRpm handles the programs of one canonical manager.
func analyzeRpm(a *analysis, mgr string) {
	type dl struct {
		c    *command
		tool rpmTool
		why  string // what allows the flags, for the note ("" = always allowed)
	}
	var downloads []dl
	for _, c := range a.cmds {
		tool, ok := rpmTools[c.name]
		if !ok || tool.mgr != mgr {
			continue
		}
		sub, at := rpmSub(c.argv)
		switch {
		case rpmDownloads[sub]:
			if _, found, _ := findFlag(c.argv, 1, "--installroot", "", false); found {
				continue // the cachedir is under the other root: left alone
			}
			a.detect(mgr)
			if c.user.kind == numericUser {
				a.skip(mgr, "`"+oneLine(c.raw)+"` runs as user "+c.user.spec) // needs root
				return
			}
			var why string
			if c.name == "microdnf" && !(hasWord(c.argv, 1, "--refresh") && rpmHasSetopt(c.argv, "keepcache")) {
				// Without both flags a mounted cache would keep nothing
				// or serve stale metadata, and adding them breaks the
				// microdnf of UBI 8.4 and older, which the Dockerfile
				// doesn't tell apart: only the image's os-release can.
				// Never break a build: unless it names a release known
				// to have microdnf 3.7+, leave the step alone.
				rel := a.release()
				if !microdnfTakesFlags(rel) {
					msg := "`" + oneLine(c.raw) + "`: microdnf before 3.7 rejects the --setopt=keepcache=1 a cache needs"
					if rel.Known() {
						msg += " (the image is " + rel.String() + ", not known to have 3.7)"
					}
					a.skip(mgr, msg)
					return
				}
				why = " (the image is " + rel.String() + ": microdnf 3.7 or newer)"
			}
			if hasWord(c.argv, 1, "-C", "--cacheonly") {
				for _, t := range tool.caches {
					a.bad[t] = "`" + oneLine(c.raw) + "` runs from the image's cache only"
				}
			}
			if _, found, _ := findFlag(c.argv, 1, "--setopt", "", false); found {
				for i := 1; i < len(c.argv); i++ {
					if v, n, _ := flagAt(c.argv, i, "--setopt", "", false); n > 0 &&
						(strings.HasPrefix(v, "cachedir=") || strings.HasPrefix(v, "system_cachedir=")) {
						for _, t := range tool.caches {
							a.bad[t] = "`" + oneLine(c.raw) + "` sets its own cachedir"
						}
					}
				}
			}
			downloads = append(downloads, dl{c, tool, why})
			for _, t := range tool.caches {
				a.want(mgr, c.user, t, Locked)
			}
		case sub == "clean":
			kinds := c.argv[at+1:]
			ok := len(kinds) > 0
			for _, k := range kinds {
				if !k.known || !rpmCleanKinds[k.val] {
					ok = false
				}
			}
			if !ok {
				continue // `clean rpmdb` and the like: not only the cache
			}
			targets := tool.caches
			if mgr == "yum" && hasWord(kinds, 0, "all") {
				targets = append(targets[:len(targets):len(targets)], yumRpmdbIndexes)
			}
			a.addCleanup(mgr, c, cleanItem{word: -1, targets: targets})
		}
	}
	if len(downloads) == 0 {
		return
	}
	var fixes []*edit
	var notes []string
	for _, d := range downloads {
		var missing []string
		for _, f := range d.tool.flags {
			name, val, _ := strings.Cut(f, "=")
			switch {
			case name == "--setopt" || name == "'--setopt":
				k, _, _ := strings.Cut(val, "=")
				if rpmHasSetopt(d.c.argv, k) {
					continue
				}
			case hasWord(d.c.argv, 1, f):
				continue
			}
			missing = append(missing, f)
		}
		if len(missing) == 0 {
			continue
		}
		text := strings.Join(missing, " ")
		e := insertAfter(d.c.argv[0], text)
		if e == nil {
			for _, t := range d.tool.caches {
				a.bad[t] = "can't add " + text + " to `" + oneLine(d.c.raw) + "`"
			}
			continue
		}
		fixes = append(fixes, e)
		notes = append(notes, "added "+text+" to `"+oneLine(d.c.raw)+"`"+d.why)
	}
	a.finish = append(a.finish, func(mounted map[string]bool) {
		for _, d := range downloads {
			for _, t := range d.tool.caches {
				if mounted[t] {
					a.edits = append(a.edits, fixes...)
					for _, n := range notes {
						a.note(mgr, n)
					}
					return
				}
			}
		}
	})
}
