package llbtransform

import (
	"strings"

	"github.com/autocache/autocache/pkgmgr"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/solver/pb"
)

// CacheID is the cache id of a cache mount that autocache adds
// (docs/cache-ids.md):
//
//	id = ns "/" [ "@" scope "/" ] [ platform "/" ] [ "from:" image "/" ] target
//
// With no scope, platform or image it is exactly upstream's id for a
// hand-written --mount=type=cache,target=<target> (ns + "/" + the cleaned
// target), so both share one cache. target is absolute and clean, and the
// qualifiers have no empty component, so the first "//" after ns ends them;
// neither a scope nor a platform contains ":", so "from:" starts the image.
// An id parses back to (scope, platform, image, target), and with any of
// them it can never equal a hand-written mount's default id.
func CacheID(ns, scope, platform, image, target string) string {
	id := ns + "/"
	if scope != "" {
		id += "@" + scope + "/"
	}
	if platform != "" {
		id += platform + "/"
	}
	if image != "" {
		id += "from:" + image + "/"
	}
	return id + target
}

// cacheID is the id of c's mount on a step for platform p whose lineage
// starts from image (baseImage).
func cacheID(opt Options, c pkgmgr.CacheMount, p *pb.Platform, image string) string {
	plat := ""
	if c.PerPlatform {
		plat = platformID(p)
	}
	if !c.PerImage {
		image = ""
	} else if image == "" {
		image = NoImage
	}
	return CacheID(opt.CacheNS, opt.Scope, plat, image, c.Target)
}

// NoImage stands for the base image in per-image ids of a lineage that
// starts from scratch or from anything but a registry image.
const NoImage = "-"

// imageName names the image of a source op identifier for per-image ids:
// the normalized name and tag without the digest the frontend pins, so
// builds of python:3.11-alpine share the cache across its updates
// ("docker.io/library/python:3.11-alpine"); a reference by digest alone
// keeps its digest. Anything else is NoImage.
func imageName(identifier string) string {
	s, ok := strings.CutPrefix(identifier, "docker-image://")
	if !ok {
		return NoImage
	}
	ref, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return NoImage
	}
	name := reference.TrimNamed(ref).String()
	if t, ok := ref.(reference.Tagged); ok {
		return name + ":" + t.Tag()
	}
	if d, ok := ref.(reference.Digested); ok {
		return name + "@" + d.Digest().String()
	}
	return name + ":latest"
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
