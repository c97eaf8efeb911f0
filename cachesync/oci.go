package cachesync

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/containerd/platforms"
	"github.com/docker/cli/cli/config"
	"github.com/moby/buildkit/client/ociindex"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Annotations of the image autocache writes: one layer per cache.
const (
	// AnnotationCacheID is the cache id, on each layer.
	AnnotationCacheID = "dev.autocache.cache.id"
	// AnnotationCache is the layer's Entry (JSON), on each layer.
	AnnotationCache = "dev.autocache.cache"
	// AnnotationCaches marks the manifest: the index format version.
	AnnotationCaches = "dev.autocache.caches"
	// AnnotationImage is the autocache image that made it, on the manifest.
	AnnotationImage = "dev.autocache.image"
)

// DefaultTag names the image in an OCI layout without a tag.
const DefaultTag = "autocache-caches"

// ociStore is an OCI image of caches: in an OCI layout (oci-layout://DIR),
// or in a registry (docker-image://REF), built in a temporary layout and
// pushed. Each layer is a cache's archive, annotated with its id and entry.
type ociStore struct {
	layout   string // the layout's directory (a temporary one for a registry)
	tag      string // the image's tag in the layout
	ref      string // registry reference; "" for a layout
	platform ocispecs.Platform
	tmp      string
	layers   []ocispecs.Descriptor
	diffIDs  []digest.Digest
}

func (o *ociStore) String() string {
	if o.ref != "" {
		return "docker-image://" + o.ref
	}
	return "oci-layout://" + o.layout + ":" + o.tag
}

func (o *ociStore) blobPath(d digest.Digest) string {
	return filepath.Join(o.layout, ocispecs.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
}

// --- export ---

func (o *ociStore) begin() error {
	if o.ref != "" {
		dir, err := os.MkdirTemp("", "autocache-push-")
		if err != nil {
			return err
		}
		o.layout = dir
	}
	if err := os.MkdirAll(filepath.Join(o.layout, ocispecs.ImageBlobsDir, "sha256"), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(o.layout, ".autocache-export-")
	if err != nil {
		return err
	}
	o.tmp = tmp
	return nil
}

func (o *ociStore) create() (*os.File, error) { return os.CreateTemp(o.tmp, "archive-") }

func (o *ociStore) add(ctx context.Context, e *Entry, f string) error {
	d, err := digest.Parse(e.Digest)
	if err != nil {
		return err
	}
	diffID, err := digest.Parse(e.DiffID)
	if err != nil {
		return err
	}
	if err := os.Rename(f, o.blobPath(d)); err != nil {
		return err
	}
	meta, err := json.Marshal(Entry{Cache: e.Cache, Stats: e.Stats})
	if err != nil {
		return err
	}
	o.layers = append(o.layers, ocispecs.Descriptor{
		MediaType: ocispecs.MediaTypeImageLayerGzip,
		Digest:    d,
		Size:      e.Size,
		Annotations: map[string]string{
			AnnotationCacheID:        e.ID,
			AnnotationCache:          string(meta),
			ocispecs.AnnotationTitle: ArchiveName(e.Cache),
		},
	})
	o.diffIDs = append(o.diffIDs, diffID)
	return nil
}

// writeBlob writes a small blob (config, manifest) into the layout.
func (o *ociStore) writeBlob(mediaType string, v any) (ocispecs.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return ocispecs.Descriptor{}, err
	}
	desc := ocispecs.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	tmp, err := os.CreateTemp(o.tmp, "blob-")
	if err != nil {
		return desc, err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return desc, err
	}
	if err := tmp.Close(); err != nil {
		return desc, err
	}
	return desc, os.Rename(tmp.Name(), o.blobPath(desc.Digest))
}

func (o *ociStore) commit(ctx context.Context, idx Index) error {
	created := idx.Created
	cfg := ocispecs.Image{
		Created:  &created,
		Platform: ocispecs.Platform{OS: o.platform.OS, Architecture: o.platform.Architecture},
		RootFS:   ocispecs.RootFS{Type: "layers", DiffIDs: o.diffIDs},
		Config:   ocispecs.ImageConfig{Labels: map[string]string{AnnotationCaches: fmt.Sprint(IndexVersion)}},
	}
	cfgDesc, err := o.writeBlob(ocispecs.MediaTypeImageConfig, cfg)
	if err != nil {
		return err
	}
	ann := map[string]string{AnnotationCaches: fmt.Sprint(IndexVersion), ocispecs.AnnotationCreated: created.UTC().Format(time.RFC3339)}
	if idx.Image != "" {
		ann[AnnotationImage] = idx.Image
	}
	mfst := ocispecs.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispecs.MediaTypeImageManifest,
		Config:      cfgDesc,
		Layers:      o.layers,
		Annotations: ann,
	}
	if mfst.Layers == nil {
		mfst.Layers = []ocispecs.Descriptor{}
	}
	desc, err := o.writeBlob(ocispecs.MediaTypeImageManifest, mfst)
	if err != nil {
		return err
	}
	os.RemoveAll(o.tmp)
	if o.ref == "" {
		return ociindex.NewStoreIndex(o.layout).Put(desc, ociindex.Tag(o.tag))
	}
	defer os.RemoveAll(o.layout)
	return o.push(ctx, desc)
}

func (o *ociStore) push(ctx context.Context, desc ocispecs.Descriptor) error {
	store, err := local.NewStore(o.layout)
	if err != nil {
		return err
	}
	pusher, err := resolver().Pusher(ctx, o.ref)
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", o, err)
	}
	if err := remotes.PushContent(ctx, pusher, desc, store, nil, platforms.All, nil); err != nil {
		return fmt.Errorf("pushing to %s: %w", o, err)
	}
	return nil
}

func (o *ociStore) abort() {
	if o.tmp != "" {
		os.RemoveAll(o.tmp)
	}
	if o.ref != "" && o.layout != "" {
		os.RemoveAll(o.layout)
	}
}

// --- import ---

func (o *ociStore) index(ctx context.Context) (Index, error) {
	var (
		mfst ocispecs.Manifest
		err  error
	)
	if o.ref != "" {
		mfst, err = o.remoteManifest(ctx)
	} else {
		mfst, err = o.layoutManifest()
	}
	if err != nil {
		return Index{}, err
	}
	if _, ok := mfst.Annotations[AnnotationCaches]; !ok {
		return Index{}, fmt.Errorf("%s is not an image of autocache caches (no %s annotation)", o, AnnotationCaches)
	}
	idx := Index{Version: IndexVersion, Image: mfst.Annotations[AnnotationImage]}
	if t, err := time.Parse(time.RFC3339, mfst.Annotations[ocispecs.AnnotationCreated]); err == nil {
		idx.Created = t
	}
	seen := map[string]bool{}
	for _, l := range mfst.Layers {
		var e Entry
		if err := json.Unmarshal([]byte(l.Annotations[AnnotationCache]), &e); err != nil {
			return idx, fmt.Errorf("%s: layer %s: no readable %s annotation: %w", o, l.Digest, AnnotationCache, err)
		}
		if e.Digest != l.Digest.String() || e.Size != l.Size || e.ID != l.Annotations[AnnotationCacheID] {
			return idx, fmt.Errorf("%s: layer %s: its annotations describe another archive", o, l.Digest)
		}
		if err := e.check(); err != nil {
			return idx, fmt.Errorf("%s: %w", o, err)
		}
		if seen[e.Key()] {
			return idx, fmt.Errorf("%s: cache %s listed twice", o, e.Cache)
		}
		seen[e.Key()] = true
		idx.Caches = append(idx.Caches, e)
	}
	return idx, nil
}

func (o *ociStore) layoutManifest() (ocispecs.Manifest, error) {
	var m ocispecs.Manifest
	si := ociindex.NewStoreIndex(o.layout)
	if _, err := os.Stat(filepath.Join(o.layout, ocispecs.ImageIndexFile)); err != nil {
		return m, fmt.Errorf("%s: not an OCI layout: %w", o, err)
	}
	desc, err := si.Get(o.tag)
	if err != nil {
		return m, fmt.Errorf("%s: %w", o, err)
	}
	if desc == nil && o.tag == DefaultTag {
		desc, err = si.GetSingle()
		if err != nil {
			return m, fmt.Errorf("%s: %w", o, err)
		}
	}
	if desc == nil {
		return m, fmt.Errorf("%s: no image tagged %q in the layout", o, o.tag)
	}
	f, err := os.Open(o.blobPath(desc.Digest))
	if err != nil {
		return m, fmt.Errorf("%s: %w", o, err)
	}
	defer f.Close()
	return readManifest(f, *desc, o.String())
}

func (o *ociStore) remoteManifest(ctx context.Context) (ocispecs.Manifest, error) {
	var m ocispecs.Manifest
	r := resolver()
	name, desc, err := r.Resolve(ctx, o.ref)
	if err != nil {
		return m, fmt.Errorf("%s: %w", o, err)
	}
	f, err := r.Fetcher(ctx, name)
	if err != nil {
		return m, fmt.Errorf("%s: %w", o, err)
	}
	rc, err := f.Fetch(ctx, desc)
	if err != nil {
		return m, fmt.Errorf("%s: %w", o, err)
	}
	defer rc.Close()
	return readManifest(rc, desc, o.String())
}

// maxManifest bounds what is read of a manifest.
const maxManifest = 4 << 20

func readManifest(r io.Reader, desc ocispecs.Descriptor, where string) (ocispecs.Manifest, error) {
	var m ocispecs.Manifest
	if desc.MediaType != ocispecs.MediaTypeImageManifest && desc.MediaType != images.MediaTypeDockerSchema2Manifest {
		return m, fmt.Errorf("%s is a %s, not an image manifest of autocache caches", where, desc.MediaType)
	}
	b, err := io.ReadAll(io.LimitReader(r, maxManifest))
	if err != nil {
		return m, fmt.Errorf("%s: %w", where, err)
	}
	if digest.FromBytes(b) != desc.Digest {
		return m, fmt.Errorf("%s: the manifest does not match its digest %s", where, desc.Digest)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", where, err)
	}
	return m, nil
}

func (o *ociStore) fetch(ctx context.Context, e Entry) (string, string, func(), error) {
	d, err := digest.Parse(e.Digest)
	if err != nil {
		return "", "", nil, err
	}
	rel := filepath.Join(ocispecs.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
	if o.ref == "" {
		if err := verifyFile(filepath.Join(o.layout, rel), e); err != nil {
			return "", "", nil, err
		}
		return o.layout, rel, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "autocache-pull-")
	if err != nil {
		return "", "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := o.pull(ctx, e, d, filepath.Join(dir, "archive")); err != nil {
		cleanup()
		return "", "", nil, err
	}
	return dir, "archive", cleanup, nil
}

func (o *ociStore) pull(ctx context.Context, e Entry, d digest.Digest, file string) error {
	r := resolver()
	name, _, err := r.Resolve(ctx, o.ref)
	if err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	f, err := r.Fetcher(ctx, name)
	if err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	rc, err := f.Fetch(ctx, ocispecs.Descriptor{MediaType: ocispecs.MediaTypeImageLayerGzip, Digest: d, Size: e.Size})
	if err != nil {
		return fmt.Errorf("%s: layer of %s: %w", o, e.Cache, err)
	}
	defer rc.Close()
	out, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, io.LimitReader(rc, e.Size+1))
	if err2 := out.Close(); err == nil {
		err = err2
	}
	if err != nil {
		return fmt.Errorf("%s: layer of %s: %w", o, e.Cache, err)
	}
	return verifyFile(file, e)
}

// resolver talks to registries with the credentials of docker login
// (~/.docker/config.json, credential helpers included), over plain HTTP
// for localhost and 127.0.0.1.
func resolver() remotes.Resolver {
	cfg := config.LoadDefaultConfigFile(io.Discard)
	creds := func(host string) (string, string, error) {
		ac, err := cfg.GetAuthConfig(host)
		if err != nil {
			return "", "", err
		}
		if ac.IdentityToken != "" {
			return "", ac.IdentityToken, nil
		}
		return ac.Username, ac.Password, nil
	}
	return docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(
			docker.WithPlainHTTP(docker.MatchLocalhost),
			docker.WithAuthorizer(docker.NewDockerAuthorizer(docker.WithAuthCreds(creds))),
		),
	})
}

// verifyFile checks a local archive against its entry before it is sent
// to the builder.
func verifyFile(p string, e Entry) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("archive of %s: %w", e.Cache, err)
	}
	defer f.Close()
	v := digest.Digest(e.Digest).Verifier()
	n, err := io.Copy(v, f)
	if err != nil {
		return fmt.Errorf("archive of %s: %s: %w", e.Cache, p, err)
	}
	if n != e.Size || !v.Verified() {
		return fmt.Errorf("archive of %s: %s is corrupt or truncated: %d bytes, not the %d bytes with digest %s the exporter wrote", e.Cache, p, n, e.Size, e.Digest)
	}
	return nil
}
