package llbtransform

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"google.golang.org/protobuf/proto"
)

// countingImages answers like an image with users root and app, nothing
// in any cache directory and RHEL 9's os-release, and counts what it is
// asked, by the filesystem asked about and the kind of fact.
type countingImages struct {
	mu    sync.Mutex
	asked map[string]int
}

func (c *countingImages) ask(def *pb.Definition, kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var term pb.Op
	head := "?"
	if n := len(def.Def); n > 0 && term.Unmarshal(def.Def[n-1]) == nil && len(term.Inputs) == 1 {
		head = fmt.Sprintf("%s#%d", term.Inputs[0].Digest, term.Inputs[0].Index)
	}
	c.asked[head+" "+kind]++
}

func (c *countingImages) Accounts(_ context.Context, rootfs *pb.Definition) ([]byte, []byte, error) {
	c.ask(rootfs, "accounts")
	return []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), []byte("app:x:1000:\n"), nil
}

func (c *countingImages) Contents(_ context.Context, def *pb.Definition, dir string) ([]string, error) {
	c.ask(def, "contents "+dir)
	return nil, nil
}

func (c *countingImages) OSRelease(_ context.Context, def *pb.Definition) ([]byte, error) {
	c.ask(def, "os-release")
	return []byte("ID=rhel\nVERSION_ID=9.6\n"), nil
}

// TestImageFactsReadOnce: a transform asks each fact of each filesystem
// at most once (a listing per image and directory, os-release per image,
// accounts per root filesystem of a non-root step), and nothing at all of
// a definition that runs no package manager, whoever its steps run as.
func TestImageFactsReadOnce(t *testing.T) {
	ubi := llb.Image("registry.access.redhat.com/ubi9/ubi-minimal", llb.Platform(linux))
	a := run(run(base(), "pip install flask"), "pip install requests")
	a = run(a, "pip install --user httpx", llb.User("app"))
	a = run(a, "npm install -g left-pad", llb.User("app"))
	b := run(base(), "pip install django") // the same image as a: its facts are read once
	b = run(b, "pip install --user rich", llb.User("app"))
	c := run(run(ubi, "microdnf install -y git"), "microdnf install -y make")
	all := llb.Merge([]llb.State{a, b, c})

	none := run(run(base(), "make"), "./configure && make install", llb.User("app"))
	none = run(none, "echo done", llb.User("app"))

	count := func(st llb.State) map[string]int {
		imgs := &countingImages{asked: map[string]int{}}
		transform(t, marshal(t, st), Options{Images: imgs})
		return imgs.asked
	}
	asked := count(all)
	kinds := map[string]bool{}
	for k, n := range asked {
		if n > 1 {
			t.Errorf("asked %d times: %s", n, k)
		}
		_, kind, _ := strings.Cut(k, " ")
		kinds[strings.Fields(kind)[0]] = true
	}
	for _, kind := range []string{"accounts", "contents", "os-release"} {
		if !kinds[kind] { // the count has something to count
			t.Errorf("no %s asked: %v", kind, asked)
		}
	}
	if asked := count(none); len(asked) > 0 {
		t.Errorf("asked about a definition with no package manager: %v", asked)
	}
}

// concurrentImages answers Contents like an empty image, holding each
// listing until a second one is in flight too (or a second has passed),
// and records how many were in flight at most.
type concurrentImages struct {
	countingImages
	mu       sync.Mutex
	inFlight int
	most     int
	two      chan struct{} // closed when two are in flight
}

func (c *concurrentImages) Contents(ctx context.Context, def *pb.Definition, dir string) ([]string, error) {
	c.mu.Lock()
	c.inFlight++
	c.most = max(c.most, c.inFlight)
	if c.inFlight == 2 {
		close(c.two)
	}
	c.mu.Unlock()
	select {
	case <-c.two:
	case <-time.After(time.Second):
	}
	c.mu.Lock()
	c.inFlight--
	c.mu.Unlock()
	return c.countingImages.Contents(ctx, def, dir)
}

// TestContentsReadAtOnce: the directories that decide a step's caches
// (apt's archives and lists) are listed at once, not one after the other:
// through the gateway each listing is a round trip. The output is the
// same as when they are listed one by one.
func TestContentsReadAtOnce(t *testing.T) {
	def := marshal(t, run(base(), "apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*"))
	imgs := &concurrentImages{countingImages: countingImages{asked: map[string]int{}}, two: make(chan struct{})}
	at := transform(t, def, Options{Images: imgs})
	if imgs.most != 2 {
		t.Errorf("at most %d listings in flight at once; want apt's two directories at once (asked: %v)", imgs.most, imgs.asked)
	}
	one := transform(t, def, Options{Images: &countingImages{asked: map[string]int{}}})
	deterministic := proto.MarshalOptions{Deterministic: true}
	a, err := deterministic.Marshal(at.Def)
	if err != nil {
		t.Fatal(err)
	}
	b, err := deterministic.Marshal(one.Def)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) || len(at.Steps) != 1 || len(at.Steps[0].Mounts) != len(one.Steps[0].Mounts) {
		t.Error("the output differs from a transform whose listings came one by one")
	}
}
