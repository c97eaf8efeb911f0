package pkgmgr

import "testing"

var zypperPkgs = []string{"/var/cache/zypp/packages locked 0:0"}

// Shapes from the corpus (crystal-lang osc, longhorn, rancher, yast) and
// openSUSE/BCI Dockerfiles.
func TestZypper(t *testing.T) { runCases(t, zypperCases) }

func init() { registerCases("zypper", zypperCases) }

var zypperCases = []tcase{{
	name: "crystal osc: addrepo, refresh, install",
	in: "zypper --non-interactive addrepo -f https://download.opensuse.org/repositories/openSUSE:Tools/openSUSE_15.2/openSUSE:Tools.repo && " +
		"zypper --non-interactive --quiet --gpg-auto-import-keys refresh && zypper --non-interactive install -y osc build which",
	caches: zypperPkgs, files: true,
	notes: []string{"zypper: cache /var/cache/zypp/packages (locked)",
		"zypper: kept downloaded packages (/var/cache/zypp/packages/.keep_packages)"},
}, {
	name: "longhorn: ref and update", in: "zypper -n ref && zypper update -y", caches: zypperPkgs, files: true,
}, {
	name:   "longhorn: clean --all keeps the package cache, cleans metadata as before",
	in:     "zypper -n install     iputils     iproute2     && zypper clean --all",
	out:    "zypper -n install     iputils     iproute2     && zypper clean --metadata --raw-metadata",
	caches: zypperPkgs, files: true,
	notes: []string{"zypper: replaced --all by --metadata --raw-metadata in `zypper clean --all`"},
}, {
	name: "in and clean -a", in: "zypper in -y curl && zypper clean -a",
	out: "zypper in -y curl && zypper clean --metadata --raw-metadata", caches: zypperPkgs, files: true,
}, {
	name:   "yast: plain clean (packages only) goes",
	in:     "zypper --gpg-auto-import-keys --non-interactive in --no-recommends git && zypper clean",
	out:    "zypper --gpg-auto-import-keys --non-interactive in --no-recommends git && true",
	caches: zypperPkgs, files: true, notes: []string{"zypper: removed `zypper clean`"},
}, {
	name: "cc -m cleans metadata only: stays", in: "zypper -n in git && zypper cc -m",
	caches: zypperPkgs, files: true,
}, {
	name: "--pkg-cache-dir", in: "zypper --pkg-cache-dir /pkgs -n in git",
	caches: []string{"/pkgs locked 0:0"}, files: true,
}, {
	name: "rm of /var/cache/zypp/* would take the mountpoint", in: "zypper -n in git && rm -rf /var/cache/zypp/*",
	notes: []string{"skipped /var/cache/zypp/packages: `rm -rf /var/cache/zypp/*` would remove the mountpoint"},
}, {
	name: "rancher: --installroot, another root: none",
	in:   "zypper refresh && zypper --installroot /chroot -n in --no-recommends git-core curl && zypper --installroot /chroot clean -a",
	none: true,
}, {
	name: "repo setup only", in: "zypper ar -f https://x/y.repo y && zypper --gpg-auto-import-keys ref", none: true,
}, {
	name: "non-root user", in: "zypper -n in git", user: "1000",
	notes: []string{"zypper: skipped: `zypper -n in git` runs as user 1000"},
}, {
	name: "exec form clean --all can't become two words", argv: []string{"zypper", "clean", "--all"}, none: true,
}}
