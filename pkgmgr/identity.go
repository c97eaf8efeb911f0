package pkgmgr

// perPlatform lists the managers whose caches get the step's platform in
// their cache id (docs/cache-ids.md has the argument for every manager).
// A platform-qualified id no longer matches a hand-written
// --mount=type=cache,target=…, so it is used only where one id shared by
// linux/amd64 and linux/arm64 would thrash or serialize for nothing:
//
//   - apt: `apt-get update` deletes every list file its current sources
//     don't name (APT::List-Cleanup), so two platforms delete each other's
//     lists; the archives are per-arch .debs behind a locked mount, so a
//     multi-platform build would run its apt steps one platform at a time.
//   - apk: packages and indexes come from per-arch repositories; locked.
//   - dnf, yum: libsolv caches are named by repo id only (<repoid>.solv) and
//     rebuilt when the other arch's metadata is found there; locked.
//   - zypper: packages are stored per arch already; locked, so sharing only
//     makes the platforms wait for each other.
//   - conda: extracted packages are named <name>-<version>-<build> without
//     the subdir (linux-64, linux-aarch64); the same name on two platforms
//     is re-fetched and re-extracted over the other's copy.
var perPlatform = map[string]bool{
	"apt": true, "apk": true, "dnf": true, "yum": true, "zypper": true, "conda": true,
}

// PerPlatform reports whether a manager's caches are kept apart per
// platform (its cache ids carry the platform).
func PerPlatform(manager string) bool { return perPlatform[manager] }
