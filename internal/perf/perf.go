// Package perf measures what the frontend adds to upstream's work: the
// Dockerfiles to measure (the corpus, the examples, synthetic files of a
// given size), upstream's conversion as the plan command runs it, and the
// transform as the frontend runs it, with image facts answered at once so
// that only CPU is measured. Its benchmarks and cmd/perftable use it.
package perf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/autocache/autocache/llbtransform"
	"github.com/autocache/autocache/plan"
	"github.com/moby/buildkit/solver/pb"
)

// Case is one Dockerfile to measure.
type Case struct {
	Name       string
	Dockerfile []byte
	Synthetic  int // its number of steps, for a synthetic file; 0 otherwise
}

// Root finds the module's root from the working directory.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("perf: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Examples are examples/*/Dockerfile under root.
func Examples(root string) ([]Case, error) {
	files, err := filepath.Glob(filepath.Join(root, "examples", "*", "Dockerfile"))
	if err != nil {
		return nil, err
	}
	return read(files, func(f string) string { return "examples/" + filepath.Base(filepath.Dir(f)) })
}

// Corpus are the Dockerfiles of pkgmgr/testdata/corpus under root.
func Corpus(root string) ([]Case, error) {
	files, err := filepath.Glob(filepath.Join(root, "pkgmgr", "testdata", "corpus", "*"))
	if err != nil {
		return nil, err
	}
	files = slicesDelete(files, func(f string) bool { return strings.HasSuffix(f, ".md") })
	return read(files, func(f string) string { return "corpus/" + filepath.Base(f) })
}

func slicesDelete(s []string, drop func(string) bool) []string {
	var out []string
	for _, v := range s {
		if !drop(v) {
			out = append(out, v)
		}
	}
	return out
}

func read(files []string, name func(string) string) ([]Case, error) {
	sort.Strings(files)
	var out []Case
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, Case{Name: name(f), Dockerfile: b})
	}
	return out, nil
}

// Synthetic is a Dockerfile of n steps (instructions after FROM) in stages
// of 20: every other stage builds on the one before, six steps in ten are
// RUNs and five a package manager's (each its own script), one of those as
// a named user, and a last stage copies from every stage so that all of
// them are built.
func Synthetic(n int) Case {
	images := []string{"debian:bookworm", "python:3.12", "node:22", "golang:1.26"}
	var b strings.Builder
	stage, inStage := 0, 0
	from := func() {
		if stage%2 == 1 {
			fmt.Fprintf(&b, "FROM s%d AS s%d\n", stage-1, stage)
		} else {
			fmt.Fprintf(&b, "FROM %s AS s%d\n", images[(stage/2)%len(images)], stage)
		}
	}
	from()
	for i := range n {
		if inStage == 20 {
			stage++
			inStage = 0
			from()
		}
		inStage++
		switch i % 10 {
		case 0:
			fmt.Fprintf(&b, "RUN apt-get update && apt-get install -y --no-install-recommends pkg%d && rm -rf /var/lib/apt/lists/*\n", i)
		case 1:
			fmt.Fprintf(&b, "RUN pip install --no-cache-dir pkg%d==1.%d\n", i, i)
		case 2:
			fmt.Fprintf(&b, "ENV STEP%d=%d\n", i, i)
		case 3:
			fmt.Fprintf(&b, "RUN npm install -g pkg%d\n", i)
		case 4:
			fmt.Fprintf(&b, "COPY file%d /app/file%d\n", i, i)
		case 5:
			fmt.Fprintf(&b, "RUN go install example.com/tool%d@latest\n", i)
		case 6:
			fmt.Fprintf(&b, "RUN make step%d && ./configure --prefix=/opt/%d\n", i, i)
		case 7:
			fmt.Fprintf(&b, "USER app\n")
		case 8:
			fmt.Fprintf(&b, "RUN pip install --user pkg%d\n", i)
		case 9:
			fmt.Fprintf(&b, "USER root\n")
		}
	}
	fmt.Fprintf(&b, "FROM debian:bookworm-slim\n")
	for s := 0; s <= stage; s++ {
		fmt.Fprintf(&b, "COPY --from=s%d /app /s%d\n", s, s)
	}
	return Case{Name: fmt.Sprintf("synthetic/%d", n), Dockerfile: []byte(b.String()), Synthetic: n}
}

// Convert is upstream's conversion of a Dockerfile (dockerfile2llb, as the
// builder runs it), with every base image given an empty config.
func Convert(ctx context.Context, dockerfile []byte) (*pb.Definition, error) {
	return plan.Convert(ctx, dockerfile, plan.Options{Offline: true, Platform: "linux/amd64", BuildArgs: buildArgs})
}

// buildArgs fill in the base-image args that some corpus files leave
// without a default (as plan's corpus test does).
var buildArgs = map[string]string{"PYVERSION": "3.12"}

// Options are the frontend's transform options, with Images answering at
// once: every image has users root and app, nothing in any cache
// directory, and Debian's os-release.
func Options() llbtransform.Options {
	return llbtransform.Options{Images: Instant{}}
}

// Instant is an llbtransform.Images that answers without reading anything.
type Instant struct{}

func (Instant) Accounts(context.Context, *pb.Definition) ([]byte, []byte, error) {
	return []byte("root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\n"), []byte("root:x:0:\napp:x:1000:\n"), nil
}

func (Instant) Contents(context.Context, *pb.Definition, string) ([]string, error) {
	return nil, nil
}

func (Instant) OSRelease(context.Context, *pb.Definition) ([]byte, error) {
	return []byte("ID=debian\nVERSION_ID=\"12\"\n"), nil
}
