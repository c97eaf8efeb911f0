package llbtransform

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
)

// osReleases answers OSRelease by image name and records which images it
// was asked about.
func osReleases(t *testing.T, calls *[]string, files map[string]string) func(context.Context, *pb.Definition) ([]byte, error) {
	return func(_ context.Context, def *pb.Definition) ([]byte, error) {
		order, m := ops(t, def)
		if len(order) != 2 || m[order[0]].GetSource() == nil {
			t.Errorf("asked about %d ops, not the image", len(order))
			return nil, errors.New("not an image")
		}
		id := m[order[0]].GetSource().GetIdentifier()
		*calls = append(*calls, id)
		f, ok := files[id]
		if !ok {
			return nil, errors.New("no such file")
		}
		return []byte(f), nil
	}
}

func TestOSReleaseDecidesMicrodnf(t *testing.T) {
	image := func(ref string) llb.State {
		return llb.Image(ref, llb.Platform(linux)).AddEnv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
	}
	const (
		ubi810 = "docker-image://registry.access.redhat.com/ubi8/ubi-minimal:8.10"
		ubi83  = "docker-image://registry.access.redhat.com/ubi8/ubi-minimal:8.3"
		ol9    = "docker-image://docker.io/library/oraclelinux:9-slim"
	)
	files := map[string]string{
		ubi810: "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"8.10\"\n",
		ubi83:  "ID=\"rhel\"\nVERSION_ID=\"8.3\"\n",
		// ol9: unreadable
	}
	new1 := run(image("registry.access.redhat.com/ubi8/ubi-minimal:8.10"), "microdnf install -y tar && microdnf clean all")
	new2 := run(new1, "microdnf install -y gzip")
	new3 := run(new2, "echo no package manager here")
	old := run(image("registry.access.redhat.com/ubi8/ubi-minimal:8.3"), "microdnf install -y tar")
	broken := run(image("docker.io/library/oraclelinux:9-slim"), "microdnf install -y tar")
	plain := run(base(), "pip install flask") // never asked: no microdnf
	in := marshal(t, llb.Merge([]llb.State{new3, old, broken, plain}))

	var calls []string
	opt := Options{CacheNS: "ns", Images: fakeImages{contents: emptyImages(nil), release: osReleases(t, &calls, files)}}
	res := transform(t, in, opt)
	steps := byScript(res)

	// Asked once per image, only for images with a microdnf step.
	slices.Sort(calls)
	if want := []string{ol9, ubi810, ubi83}; !slices.Equal(calls, want) {
		t.Errorf("asked %q, want %q", calls, want)
	}
	for _, script := range []string{"microdnf --refresh --setopt=keepcache=1 install -y tar && true", "microdnf --refresh --setopt=keepcache=1 install -y gzip"} {
		s := steps[script]
		if mountOf(s, "/var/cache/yum") == nil || !hasNote(s, "(the image is rhel 8.10: microdnf 3.7 or newer)") {
			t.Errorf("%q on 8.10: mounts %+v notes %q", script, s.Mounts, s.Notes)
		}
	}
	if s := steps["microdnf install -y tar"]; len(s.Mounts) != 0 {
		t.Errorf("a microdnf step on 8.3 or an unreadable image got %+v", s.Mounts)
	}
	for _, s := range res.Steps {
		if s.Args[2] != "microdnf install -y tar" {
			continue
		}
		if len(s.Mounts) != 0 || !hasNote(s, "microdnf before 3.7") ||
			!hasNote(s, "(the image is rhel 8.3, not known to have 3.7)") && !hasNote(s, "cannot read /etc/os-release in the base image: no such file") {
			t.Errorf("old or unknown image: mounts %+v notes %q", s.Mounts, s.Notes)
		}
	}

	// Deterministic, and a second pass changes nothing.
	for range 3 {
		var again []string
		opt.Images = fakeImages{contents: emptyImages(nil), release: osReleases(t, &again, files)}
		if r := transform(t, in, opt); !bytes.Equal(defBytes(t, res.Def), defBytes(t, r.Def)) {
			t.Fatal("same input gave different output")
		}
	}
	if c := transform(t, res.Def, opt); c.Changed {
		t.Fatal("a second transform changed the definition again")
	}

	// Without an os-release microdnf stays skipped everywhere.
	for _, s := range transform(t, in, Options{CacheNS: "ns", Images: fakeImages{contents: emptyImages(nil)}}).Steps {
		if mountOf(s, "/var/cache/yum") != nil {
			t.Errorf("no OSRelease, yet %q got a cache", s.Args[2])
		}
	}
}
