package llbtransform

import (
	"github.com/autocache/autocache/pkgmgr"
	"github.com/containerd/platforms"
	"github.com/moby/buildkit/solver/pb"
)

// CacheID is the cache id of a cache mount that autocache adds
// (docs/cache-ids.md):
//
//	id = ns "/" [ "@" scope "/" ] [ platform "/" ] target
//
// With no scope and no platform it is exactly upstream's id for a
// hand-written --mount=type=cache,target=<target> (ns + "/" + the cleaned
// target), so both share one cache. target is absolute and clean, and the
// qualifiers have no empty component, so the first "//" after ns ends them:
// an id parses back to (scope, platform, target), and with a scope or a
// platform it can never equal a hand-written mount's default id.
func CacheID(ns, scope, platform, target string) string {
	id := ns + "/"
	if scope != "" {
		id += "@" + scope + "/"
	}
	if platform != "" {
		id += platform + "/"
	}
	return id + target
}

// cacheID is the id of c's mount on a step for platform p.
func cacheID(opt Options, c pkgmgr.CacheMount, p *pb.Platform) string {
	plat := ""
	if pkgmgr.PerPlatform(c.Manager) {
		plat = platformID(p)
	}
	return CacheID(opt.CacheNS, opt.Scope, plat, c.Target)
}

// platformID is the op's platform normalized by containerd/platforms, e.g.
// "linux/arm/v7", "linux/arm64" (also for linux/aarch64 and linux/arm64/v8:
// one platform, one cache).
func platformID(p *pb.Platform) string {
	if p == nil || p.OS == "" || p.Architecture == "" {
		return ""
	}
	return platforms.Format(platforms.Normalize(p.Spec()))
}
