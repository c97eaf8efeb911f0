// Package cachesync moves the contents of BuildKit cache mounts, by id,
// out of a builder and into another: to and from a directory (one archive
// per cache and an index), an OCI layout, or a registry image (one layer
// per cache, annotated with it). It talks to the builder as buildctl does
// (BuildKit's client and connection helpers), and every copy is a small
// solve whose step mounts the cache by its id, seed and sharing mode in
// the autocache image and runs that image's helper (package
// cachearchive): data leaves the builder through the tar exporter and
// enters it as a local source, so nothing but the builder and the image is
// needed.
package cachesync

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/autocache/autocache/cacheinfo"
	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	_ "github.com/moby/buildkit/client/connhelper/dockercontainer" // docker-container://
	_ "github.com/moby/buildkit/client/connhelper/kubepod"         // kube-pod://
	_ "github.com/moby/buildkit/client/connhelper/nerdctlcontainer"
	_ "github.com/moby/buildkit/client/connhelper/podmancontainer"
	_ "github.com/moby/buildkit/client/connhelper/ssh"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Conn says how to reach a builder, as buildctl's global flags do.
type Conn struct {
	Addr       string // unix://, tcp://, docker-container://, kube-pod://, ssh://…; "" = $BUILDKIT_HOST, else unix:///run/buildkit/buildkitd.sock
	TLSDir     string // ca.pem/ca.crt, cert.pem/tls.crt, key.pem/tls.key
	CACert     string
	Cert       string
	Key        string
	ServerName string // "" = the address's host
}

// DefaultAddr is buildctl's default address.
const DefaultAddr = "unix:///run/buildkit/buildkitd.sock"

// Builder is a connected builder.
type Builder struct {
	c        *client.Client
	addr     string
	platform ocispecs.Platform
}

// Connect connects to the builder and asks it for its platform.
func Connect(ctx context.Context, conn Conn) (*Builder, error) {
	addr := conn.Addr
	if addr == "" {
		addr = os.Getenv("BUILDKIT_HOST")
	}
	if addr == "" {
		addr = DefaultAddr
	}
	var opts []client.ClientOpt
	ca, cert, key := conn.CACert, conn.Cert, conn.Key
	if conn.TLSDir != "" {
		if ca != "" || cert != "" || key != "" {
			return nil, fmt.Errorf("--tlsdir and --tlscacert/--tlscert/--tlskey exclude each other")
		}
		var err error
		if ca, cert, key, err = tlsFiles(conn.TLSDir); err != nil {
			return nil, err
		}
	}
	if ca != "" {
		name := conn.ServerName
		if name == "" {
			u, err := url.Parse(addr)
			if err != nil {
				return nil, fmt.Errorf("builder address %q: %w", addr, err)
			}
			name = u.Hostname()
		}
		opts = append(opts, client.WithServerConfig(name, ca))
	}
	if cert != "" || key != "" {
		opts = append(opts, client.WithCredentials(cert, key))
	}
	c, err := client.New(ctx, addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("builder %s: %w", addr, err)
	}
	b := &Builder{c: c, addr: addr}
	ws, err := c.ListWorkers(ctx)
	if err != nil {
		c.Close()
		return nil, b.wrap(err, "listing its workers")
	}
	if len(ws) == 0 || len(ws[0].Platforms) == 0 {
		c.Close()
		return nil, fmt.Errorf("builder %s has no worker", addr)
	}
	b.platform = platforms.Normalize(ws[0].Platforms[0])
	return b, nil
}

// Close closes the connection.
func (b *Builder) Close() error { return b.c.Close() }

// Addr is the builder's address.
func (b *Builder) Addr() string { return b.addr }

// Platform is the platform of the builder's first worker, where the
// copies run.
func (b *Builder) Platform() ocispecs.Platform { return b.platform }

func tlsFiles(dir string) (ca, cert, key string, err error) {
	oneOf := func(names ...string) (string, error) {
		for _, n := range names {
			p := filepath.Join(dir, n)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		return "", fmt.Errorf("--tlsdir %s has none of %s", dir, strings.Join(names, ", "))
	}
	if ca, err = oneOf("ca.pem", "ca.crt"); err != nil {
		return
	}
	if cert, err = oneOf("cert.pem", "tls.crt"); err != nil {
		return
	}
	key, err = oneOf("key.pem", "tls.key")
	return
}

// OnBuilder is a cache the builder holds.
type OnBuilder struct {
	cacheinfo.Cache
	Size  int64 // bytes on the builder (the largest record, if several)
	InUse bool  // a build has it mounted now
}

// recordCacheMount is BuildKit's record type of a cache mount.
const recordCacheMount = client.UsageRecordTypeCacheMount

// Caches lists the cache mounts on the builder whose id has autocache's
// shape (cacheinfo.TargetOf), from its disk-usage records. The
// records don't say how the cache is shared, so Sharing is "locked" (a
// copy then waits for the builds that use it). A record with a seed
// (a non-root step's cache) can't be mounted again without knowing the
// seed's owner: those are returned in seeded, by id.
func (b *Builder) Caches(ctx context.Context) (caches []OnBuilder, seeded []string, err error) {
	recs, err := b.c.DiskUsage(ctx)
	if err != nil {
		return nil, nil, b.wrap(err, "reading its disk usage")
	}
	byID := map[string]int{}
	for _, r := range recs {
		if r.RecordType != recordCacheMount {
			continue
		}
		// The description names the target of the step that made the
		// cache (for one an import made, the copy's); the id names autocache's.
		_, id, ok := parseDescription(r.Description)
		if !ok {
			continue
		}
		target, ok := cacheinfo.TargetOf(id)
		if !ok {
			continue
		}
		if len(r.Parents) > 0 {
			if !contains(seeded, id) {
				seeded = append(seeded, id)
			}
			continue
		}
		if i, ok := byID[id]; ok {
			caches[i].Size = max(caches[i].Size, r.Size)
			caches[i].InUse = caches[i].InUse || r.InUse
			continue
		}
		byID[id] = len(caches)
		caches = append(caches, OnBuilder{
			Cache: cacheinfo.Cache{ID: id, Target: target, Sharing: cacheinfo.Locked, Mode: cacheinfo.DefaultMode, Managers: []string{}},
			Size:  r.Size, InUse: r.InUse,
		})
	}
	sort.Slice(caches, func(i, j int) bool { return caches[i].ID < caches[j].ID })
	sort.Strings(seeded)
	return caches, seeded, nil
}

// parseDescription reads a cache mount's record description, which
// BuildKit writes as `cached mount TARGET from exec ARGS… with id "ID"`
// (without the id part when the id is the target).
func parseDescription(d string) (target, id string, ok bool) {
	rest, ok := strings.CutPrefix(d, "cached mount ")
	if !ok {
		return "", "", false
	}
	target, _, ok = strings.Cut(rest, " from ")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, ` with id "`)
	if i < 0 {
		return target, target, true
	}
	id, err := strconv.Unquote(rest[i+len(" with id "):])
	if err != nil {
		return "", "", false
	}
	return target, id, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
