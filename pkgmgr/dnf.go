package pkgmgr

import (
	"github.com/autocache/autocache/imagefacts"
	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// The RPM family: dnf (4 and 5), microdnf and tdnf here, yum in yum.go,
// what they share in rpm.go.
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

func init() {
	register(manager{
		Name:     "dnf",
		Programs: []string{"dnf", "dnf-3", "dnf4", "dnf5", "microdnf", "tdnf"},
		// libsolv caches are named by repo id only (<repoid>.solv) and
		// rebuilt when the other arch's metadata is found there; locked.
		PerPlatform: true,
		Local:       true,
		Analyze:     func(t *task) { analyzeRpm(t, dnfTools) },
	})
}

var dnfFlags = []string{"--refresh", "--setopt=keepcache=1"}

var dnfTools = map[string]rpmTool{
	"dnf":      {caches: []string{"/var/cache/dnf", "/var/cache/libdnf5"}, flags: dnfFlags},
	"dnf-3":    {caches: []string{"/var/cache/dnf"}, flags: dnfFlags},
	"dnf4":     {caches: []string{"/var/cache/dnf"}, flags: dnfFlags},
	"dnf5":     {caches: []string{"/var/cache/libdnf5"}, flags: dnfFlags},
	"microdnf": {caches: []string{"/var/cache/libdnf5", "/var/cache/yum"}, flags: dnfFlags, gate: microdnfGate},
	"tdnf":     {caches: []string{"/var/cache/tdnf"}, flags: dnfFlags},
}

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

// microdnfGate lets a microdnf command get the flags a cache needs when
// it has both already or its image's release ships microdnf 3.7 or newer.
// Without both flags a mounted cache would keep nothing or serve stale
// metadata, and adding them breaks the microdnf of UBI 8.4 and older,
// which the Dockerfile doesn't tell apart: only the image's os-release
// can. Never break a build: unless it names a release known to have
// microdnf 3.7+, leave the step alone.
func microdnfGate(t *task, c *shell.Command) (string, bool) {
	if shell.HasWord(c.Argv, 1, "--refresh") && rpmHasSetopt(c.Argv, "keepcache") {
		return "", true
	}
	rel := t.release()
	if !microdnfTakesFlags(rel) {
		msg := "`" + shell.OneLine(c.Raw) + "`: microdnf before 3.7 rejects the --setopt=keepcache=1 a cache needs"
		if rel.Known() {
			msg += " (the image is " + rel.String() + ", not known to have 3.7)"
		}
		t.skip(msg)
		return "", false
	}
	return " (the image is " + rel.String() + ": microdnf 3.7 or newer)", true
}
