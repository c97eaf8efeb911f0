package pkgmgr

import (
	"testing"

	"github.com/autocache/autocache/imagefacts"
)

// OSRelease keeps the tables short.
type OSRelease = imagefacts.OSRelease

var (
	dnfBoth  = []string{"/var/cache/dnf locked 0:0", "/var/cache/libdnf5 locked 0:0"}
	microdnf = []string{"/var/cache/libdnf5 locked 0:0", "/var/cache/yum locked 0:0"}
	// fedora / ubi images
	fedoraEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "container=oci"}
)

// Shapes from the corpus (docker-library mysql/openjdk, dotnet azurelinux,
// sbt amazoncorretto, TechEmpower micronaut) and UBI/Fedora Dockerfiles.
func TestDnf(t *testing.T) { runCases(t, dnfCases) }

func init() { registerCases("dnf", dnfCases) }

var dnfCases = []tcase{{
	name: "fedora: install and clean all", in: "dnf install -y gcc make && dnf clean all", env: fedoraEnv,
	out:    "dnf --refresh --setopt=keepcache=1 install -y gcc make && true",
	caches: dnfBoth,
	notes: []string{"dnf: cache /var/cache/dnf (locked)", "dnf: removed `dnf clean all`",
		"dnf: added --refresh --setopt=keepcache=1 to `dnf install -y gcc make`"},
}, {
	name: "docker-library mysql: microdnf in a set -eux script",
	in:   "set -eux; \tmicrodnf install -y \t\tbzip2 \t\tgzip \t; \tmicrodnf clean all", env: fedoraEnv,
	notes: []string{"dnf: skipped: `microdnf install -y bzip2 gzip`: microdnf before 3.7 rejects the --setopt=keepcache=1 a cache needs"},
}, {
	name: "azurelinux: tdnf", in: "tdnf install -y         git         tar     && tdnf clean all", env: fedoraEnv,
	out:    "tdnf --refresh --setopt=keepcache=1 install -y         git         tar     && true",
	caches: []string{"/var/cache/tdnf locked 0:0"},
}, {
	name: "sbt amazoncorretto: update, install, rm of the cache, clean",
	in:   "dnf -y update &&   dnf -y install tar gzip &&   rm -rf /var/cache/dnf/* &&   dnf clean all", env: fedoraEnv,
	out:    "dnf --refresh --setopt=keepcache=1 -y update &&   dnf --refresh --setopt=keepcache=1 -y install tar gzip &&   true &&   true",
	caches: dnfBoth,
}, {
	name: "ubi: --setopt already given for other options; keepcache=0 chosen by the user is kept",
	in:   "dnf install -y --setopt=tsflags=nodocs --setopt=keepcache=0 python3 && dnf clean all", env: fedoraEnv,
	out:    "dnf --refresh install -y --setopt=tsflags=nodocs --setopt=keepcache=0 python3 && true",
	caches: dnfBoth,
}, {
	name: "dnf5 by name", in: "dnf5 install -y git", env: fedoraEnv,
	out: "dnf5 --refresh --setopt=keepcache=1 install -y git", caches: []string{"/var/cache/libdnf5 locked 0:0"},
}, {
	name: "already --refresh", in: "dnf --refresh install -y jq", env: fedoraEnv,
	out: "dnf --setopt=keepcache=1 --refresh install -y jq", caches: dnfBoth,
}, {
	name: "module install", in: "dnf module install -y nodejs:20/common", env: fedoraEnv,
	out: "dnf --refresh --setopt=keepcache=1 module install -y nodejs:20/common", caches: dnfBoth,
}, {
	name: "micronaut: microdnf without -y and a trailing comment",
	in:   "microdnf install findutils # Gradle 8.7 requires xargs", env: fedoraEnv,
	notes: []string{"dnf: skipped: `microdnf install findutils`: microdnf before 3.7 rejects the --setopt=keepcache=1 a cache needs"},
}, {
	name: "microdnf with both flags already: cached",
	in:   "microdnf --refresh --setopt=keepcache=1 install -y findutils && microdnf clean all", env: fedoraEnv,
	out: "microdnf --refresh --setopt=keepcache=1 install -y findutils && true", caches: microdnf,
}, {
	name: "ubi8-minimal 8.10: the flags are added",
	in:   "microdnf install -y bzip2 gzip && microdnf clean all", env: fedoraEnv,
	rel: &OSRelease{ID: "rhel", IDLike: []string{"fedora"}, VersionID: "8.10"},
	out: "microdnf --refresh --setopt=keepcache=1 install -y bzip2 gzip && true", caches: microdnf,
	notes: []string{"dnf: added --refresh --setopt=keepcache=1 to `microdnf install -y bzip2 gzip` (the image is rhel 8.10: microdnf 3.7 or newer)"},
}, {
	name: "ubi9-minimal: one flag there, the other added",
	in:   "microdnf --refresh install -y findutils", env: fedoraEnv,
	rel: &OSRelease{ID: "rhel", VersionID: "9.4"},
	out: "microdnf --setopt=keepcache=1 --refresh install -y findutils", caches: microdnf,
}, {
	name: "oraclelinux:8-slim 8.5", in: "microdnf install -y tar", env: fedoraEnv,
	rel: &OSRelease{ID: "ol", VersionID: "8.5"},
	out: "microdnf --refresh --setopt=keepcache=1 install -y tar", caches: microdnf,
}, {
	name: "rockylinux:9-minimal", in: "microdnf install -y tar", env: fedoraEnv,
	rel: &OSRelease{ID: "rocky", VersionID: "9.3"},
	out: "microdnf --refresh --setopt=keepcache=1 install -y tar", caches: microdnf,
}, {
	name: "almalinux:10-minimal", in: "microdnf install -y tar", env: fedoraEnv,
	rel: &OSRelease{ID: "almalinux", VersionID: "10.0"},
	out: "microdnf --refresh --setopt=keepcache=1 install -y tar", caches: microdnf,
}, {
	name: "centos stream 9", in: "microdnf install -y tar", env: fedoraEnv,
	rel: &OSRelease{ID: "centos", VersionID: "9"},
	out: "microdnf --refresh --setopt=keepcache=1 install -y tar", caches: microdnf,
}, {
	name: "fedora-minimal 40", in: "microdnf install -y tar", env: fedoraEnv,
	rel: &OSRelease{ID: "fedora", VersionID: "40"},
	out: "microdnf --refresh --setopt=keepcache=1 install -y tar", caches: microdnf,
}, {
	name: "ubi8-minimal 8.3: skipped, with the release", in: "microdnf install -y tar", env: fedoraEnv,
	rel:   &OSRelease{ID: "rhel", VersionID: "8.3"},
	notes: []string{"dnf: skipped: `microdnf install -y tar`: microdnf before 3.7 rejects the --setopt=keepcache=1 a cache needs (the image is rhel 8.3, not known to have 3.7)"},
}, {
	name: "ubi8-minimal 8.4 still has microdnf 3.4", in: "microdnf install -y tar", env: fedoraEnv,
	rel:   &OSRelease{ID: "rhel", VersionID: "8.4"},
	notes: []string{"skipped: `microdnf install -y tar`: microdnf before 3.7"},
}, {
	name: "centos 8 says only 8", in: "microdnf install -y tar", env: fedoraEnv,
	rel:   &OSRelease{ID: "centos", IDLike: []string{"rhel", "fedora"}, VersionID: "8"},
	notes: []string{"(the image is centos 8, not known to have 3.7)"},
}, {
	name: "fedora 33 is unchecked", in: "microdnf install -y tar", env: fedoraEnv,
	rel:   &OSRelease{ID: "fedora", VersionID: "33"},
	notes: []string{"skipped: `microdnf install -y tar`"},
}, {
	name: "amazon linux 2023: ID_LIKE fedora does not count", in: "microdnf install -y tar", env: fedoraEnv,
	rel:   &OSRelease{ID: "amzn", IDLike: []string{"fedora"}, VersionID: "2023"},
	notes: []string{"(the image is amzn 2023, not known to have 3.7)"},
}, {
	name: "rhel without VERSION_ID", in: "microdnf install -y tar", env: fedoraEnv,
	rel:   &OSRelease{ID: "rhel"},
	notes: []string{"(the image is rhel (no VERSION_ID), not known to have 3.7)"},
}, {
	name: "unknown release (Release answers zero): skipped as without it", in: "microdnf install -y tar", env: fedoraEnv,
	rel:   &OSRelease{},
	notes: []string{"dnf: skipped: `microdnf install -y tar`: microdnf before 3.7 rejects the --setopt=keepcache=1 a cache needs"},
}, {
	name: "explicit flags on an old release: cached as without a release",
	in:   "microdnf --refresh --setopt=keepcache=1 install -y tar", env: fedoraEnv,
	rel: &OSRelease{ID: "rhel", VersionID: "8.3"},
	out: "microdnf --refresh --setopt=keepcache=1 install -y tar", caches: microdnf,
}, {
	name: "rm of /var/cache/* would take the mountpoints", in: "dnf install -y x && rm -rf /var/cache/*", env: fedoraEnv,
	notes: []string{"skipped /var/cache/dnf: `rm -rf /var/cache/*` would remove the mountpoint"},
}, {
	name: "exec form: the flags can't be added", argv: []string{"dnf", "install", "-y", "git"}, env: fedoraEnv,
	notes: []string{"skipped /var/cache/dnf: can't add --refresh --setopt=keepcache=1 to `dnf install -y git`"},
}, {
	name: "non-root user", in: "dnf install -y git", user: "1001", env: fedoraEnv,
	notes: []string{"dnf: skipped: `dnf install -y git` runs as user 1001"},
}, {
	name: "clean all alone", in: "dnf clean all && rm -rf /var/cache/dnf", env: fedoraEnv, none: true,
}, {
	name: "another installroot", in: "dnf --installroot /mnt/rootfs --releasever 9 install -y bash coreutils-single",
	env: fedoraEnv, none: true,
}, {
	name: "repo setup only", in: "dnf config-manager --set-enabled crb && dnf repolist && dnf makecache", env: fedoraEnv,
	none: true,
}}

// Release is asked for only for microdnf without both flags, once per step.
func TestDnfAsksReleaseOnlyForMicrodnf(t *testing.T) {
	for _, c := range []struct {
		script string
		asks   int
	}{
		{"dnf install -y git", 0},
		{"microdnf --refresh --setopt=keepcache=1 install -y git", 0},
		{"microdnf clean all", 0},
		{"microdnf install -y git && microdnf install -y tar && microdnf clean all", 1},
	} {
		asks := 0
		s := Step{Args: []string{"/bin/sh", "-c", c.script}, Env: fedoraEnv}
		if Ask(s, Options{}).Release {
			asks++
			s.Release = &OSRelease{ID: "rhel", VersionID: "9.6"}
		}
		if _, err := Analyze(s, Options{}); err != nil {
			t.Fatal(err)
		}
		if asks != c.asks {
			t.Errorf("%q: asked %d times, want %d", c.script, asks, c.asks)
		}
	}
}
