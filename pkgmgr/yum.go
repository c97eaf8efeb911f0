package pkgmgr

// yum is yum 3 (CentOS 7, Amazon Linux 2, Oracle Linux 7: cachedir
// /var/cache/yum) or, on EL 8+ and Amazon Linux 2023, a name for dnf 4
// (/var/cache/dnf), or on Fedora 41+ dnf 5 (/var/cache/libdnf5). Nothing in
// the step tells which, so all three are mounted (a dropped `yum clean all`
// must leave nothing behind whichever it is) and only flags all understand
// are added:
//   - `--setopt=keepcache=1` (CentOS 7's yum.conf sets keepcache=0; dnf's
//     default is off);
//   - freshness: yum 3 has no --refresh, so metadata_expire=0 is set for
//     the main config and, through a repo-id glob, for every repository
//     (repos may set their own value, which the main one doesn't override;
//     dnf 4 and 5 match the repo id as a glob, yum 3 ignores a pattern it
//     can't match). Mirrors drop superseded packages; upstream starts from
//     no metadata.
//
// `yum clean all` also empties yum 3's rpmdb cache, /var/lib/yum/rpmdb-indexes
// (cleanRpmDB, persistdir): a step that runs it gets that directory mounted
// too, so dropping the clean leaves nothing new there. yum 3 validates those
// indexes against the rpmdb before using them.
//
// Sharing: locked, as for dnf (PID-file locks; yum 3 likewise).
const yumRpmdbIndexes = "/var/lib/yum/rpmdb-indexes"

func init() {
	register(manager{
		Name:     "yum",
		Programs: []string{"yum"},
		// libsolv caches are named by repo id only (<repoid>.solv) and
		// rebuilt when the other arch's metadata is found there; locked.
		PerPlatform: true,
		Local:       true,
		Analyze:     analyzeYum,
	})
}

var yumTools = map[string]rpmTool{
	"yum": {caches: []string{"/var/cache/dnf", "/var/cache/libdnf5", "/var/cache/yum"},
		flags:    []string{"--setopt=keepcache=1", "--setopt=metadata_expire=0", "'--setopt=*.metadata_expire=0'"},
		cleanAll: []string{yumRpmdbIndexes}},
}

func analyzeYum(t *task) {
	cleans := analyzeRpm(t, yumTools)
	if !t.detected() {
		return
	}
	for _, cl := range cleans {
		for _, target := range cl.targets {
			if target == yumRpmdbIndexes {
				t.want(cl.c.User, yumRpmdbIndexes, Locked)
			}
		}
	}
}
