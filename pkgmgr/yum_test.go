package pkgmgr

import "testing"

var (
	yumCaches = []string{"/var/cache/dnf locked 0:0", "/var/cache/libdnf5 locked 0:0", "/var/cache/yum locked 0:0"}
	yumClean  = append(yumCaches[:3:3], "/var/lib/yum/rpmdb-indexes locked 0:0")
)

const yumFlags = "--setopt=keepcache=1 --setopt=metadata_expire=0 '--setopt=*.metadata_expire=0'"

// Shapes from the corpus (ContinuumIO anaconda amazonlinux, micromamba
// fedora) and CentOS 7 / Amazon Linux 2 Dockerfiles.
func TestYum(t *testing.T) { runCases(t, yumCases) }

func init() { registerCases("yum", yumCases) }

var yumCases = []tcase{{
	name: "anaconda amazonlinux: install, clean all, rm of the cache dir",
	in:   "yum install -y wget bzip2 &&     yum clean all &&     rm -rf /var/cache/yum", env: fedoraEnv,
	out:    "yum " + yumFlags + " install -y wget bzip2 &&     true &&     true",
	caches: yumClean,
	notes: []string{"yum: cache /var/lib/yum/rpmdb-indexes (locked)", "yum: removed `yum clean all`",
		"yum: removed `rm -rf /var/cache/yum`"},
}, {
	name: "micromamba fedora: update and install",
	in:   "yum update -y && yum install -y       bzip2       tar     && yum clean all", env: fedoraEnv,
	out:    "yum " + yumFlags + " update -y && yum " + yumFlags + " install -y       bzip2       tar     && true",
	caches: yumClean,
}, {
	name: "centos 7: epel then nginx",
	in:   "yum -y install epel-release && yum -y install nginx && yum clean all", env: fedoraEnv,
	out:    "yum " + yumFlags + " -y install epel-release && yum " + yumFlags + " -y install nginx && true",
	caches: yumClean,
}, {
	name: "rm of the cache contents", in: "yum install -y python3 && yum clean all && rm -rf /var/cache/yum/*", env: fedoraEnv,
	out: "yum " + yumFlags + " install -y python3 && true && true", caches: yumClean,
}, {
	name: "groupinstall", in: `yum groupinstall -y "Development Tools"`, env: fedoraEnv,
	out: "yum " + yumFlags + ` groupinstall -y "Development Tools"`, caches: yumCaches,
}, {
	name: "no clean: no rpmdb-indexes", in: "yum install -y git", env: fedoraEnv,
	out: "yum " + yumFlags + " install -y git", caches: yumCaches,
}, {
	name: "clean rpmdb is not only the cache: it stays", in: "yum install -y git && yum clean rpmdb", env: fedoraEnv,
	out: "yum " + yumFlags + " install -y git && yum clean rpmdb", caches: yumCaches,
}, {
	name: "user's keepcache stays theirs", in: "yum --setopt=keepcache=0 install -y git", env: fedoraEnv,
	out: "yum --setopt=metadata_expire=0 '--setopt=*.metadata_expire=0' --setopt=keepcache=0 install -y git", caches: yumCaches,
}, {
	name: "clean that can't be edited keeps the caches off",
	in:   `yum install -y git && bash -c "yum clean all && echo $X"`, env: fedoraEnv,
	notes: []string{"skipped /var/cache/dnf: can't edit `yum clean all` (inside a string)"},
}, {
	name: "clean all alone", in: "yum clean all && rm -rf /var/cache/yum", env: fedoraEnv, none: true,
}, {
	name: "yum-config-manager and makecache", in: "yum-config-manager --add-repo https://x/y.repo && yum makecache",
	env: fedoraEnv, none: true,
}, {
	name: "dnf and yum in one step share /var/cache/dnf", in: "yum install -y epel-release && dnf install -y htop && dnf clean all",
	env: fedoraEnv, out: "yum " + yumFlags + " install -y epel-release && dnf --refresh --setopt=keepcache=1 install -y htop && true",
	caches: yumCaches,
}}
