// Command ocipush pushes the image an OCI layout holds (the first entry of its
// index.json: an image manifest or a multi-platform index) to a registry
// under each of the given names, and prints its digest. The engine harness
// keeps its base images and the frontend image as OCI layouts in the
// machine-level cache (integration/engine/mcache.sh) and loads them into a
// checkout's registry with this, without a build.
//
//	ocipush LAYOUT_DIR REF [REF...]
//
// Registries on localhost and 127.0.0.1 are spoken to over plain HTTP.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/containerd/platforms"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: ocipush LAYOUT_DIR REF [REF...]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	desc, err := push(ctx, os.Args[1], os.Args[2:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "ocipush: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(desc.Digest)
}

func push(ctx context.Context, layout string, refs []string) (ocispecs.Descriptor, error) {
	desc, err := firstManifest(layout)
	if err != nil {
		return desc, err
	}
	store, err := local.NewStore(layout)
	if err != nil {
		return desc, err
	}
	for _, ref := range refs {
		// A resolver per name: its status tracker would take a manifest
		// pushed under the first name as pushed under every name.
		resolver := docker.NewResolver(docker.ResolverOptions{
			Hosts: docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(docker.MatchLocalhost)),
		})
		pusher, err := resolver.Pusher(ctx, ref)
		if err != nil {
			return desc, fmt.Errorf("%s: %w", ref, err)
		}
		// Every platform: a multi-platform index is pushed whole.
		if err := remotes.PushContent(ctx, pusher, desc, store, nil, platforms.All, nil); err != nil {
			return desc, fmt.Errorf("pushing %s to %s: %w", layout, ref, err)
		}
	}
	return desc, nil
}

// firstManifest reads the descriptor of the first manifest in the layout's
// index.json.
func firstManifest(layout string) (ocispecs.Descriptor, error) {
	var idx ocispecs.Index
	dt, err := os.ReadFile(filepath.Join(layout, ocispecs.ImageIndexFile))
	if err != nil {
		return ocispecs.Descriptor{}, err
	}
	if err := json.Unmarshal(dt, &idx); err != nil {
		return ocispecs.Descriptor{}, fmt.Errorf("%s: %w", ocispecs.ImageIndexFile, err)
	}
	if len(idx.Manifests) == 0 {
		return ocispecs.Descriptor{}, fmt.Errorf("%s/%s lists no image", layout, ocispecs.ImageIndexFile)
	}
	return idx.Manifests[0], nil
}
