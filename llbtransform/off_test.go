package llbtransform

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// at places an op on a Dockerfile line, as dockerfile2llb does.
func at(line int) llb.ConstraintsOpt {
	sm := llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", []byte("FROM x\n"))
	return sm.Location([]*pb.Range{{Start: &pb.Position{Line: int32(line)}, End: &pb.Position{Line: int32(line)}}})
}

func TestOffStepIsLeftAsUpstreamMadeIt(t *testing.T) {
	def := marshal(t, run(base(), "pip install --no-cache-dir flask", at(3)))
	res := transform(t, def, Options{Off: map[int]string{3: "`# autocache: off` on line 2"}})
	s := res.Steps[0]
	if res.Changed || s.Rewritten || len(s.Mounts) != 0 || s.Off != "`# autocache: off` on line 2" {
		t.Fatalf("changed %v, step %+v", res.Changed, s)
	}
	if !hasNote(s, "left alone: `# autocache: off` on line 2") {
		t.Errorf("notes %q", s.Notes)
	}
	// Another line is not affected.
	res = transform(t, def, Options{Off: map[int]string{4: "x"}})
	if !res.Steps[0].Rewritten {
		t.Fatalf("a step on another line was left alone: %+v", res.Steps[0])
	}
}

func TestOffStepSeesWhatUpstreamsWould(t *testing.T) {
	// An earlier step does not cache a directory that reaches a step left
	// alone: the step would not see what it left there.
	deps := run(golang(), "go mod download", at(2))
	build := run(deps, "go build -o /app .", at(3))
	res := transform(t, marshal(t, build), Options{Off: map[int]string{3: "off"}})
	dl, b := res.Steps[0], res.Steps[1]
	if mountOf(dl, "/go/pkg/mod") != nil || !hasNote(dl, "skipped /go/pkg/mod: line 3 is left alone (off) and would not see it under the cache") {
		t.Fatalf("producer: mounts %+v notes %q", dl.Mounts, dl.Notes)
	}
	if len(b.Mounts) != 0 || b.Rewritten {
		t.Fatalf("step left alone got %+v", b.Mounts)
	}

	// What a step left alone downloads stays in the layer: no later cache
	// hides it.
	first := run(base(), "pip install flask", at(2))
	second := run(first, "pip install requests", at(3))
	res = transform(t, marshal(t, second), Options{Off: map[int]string{2: "off"}})
	s := res.Steps[1]
	if mountOf(s, "/root/.cache/pip") != nil {
		t.Fatalf("a later cache hides what the step left alone wrote: %+v", s.Mounts)
	}
	found := false
	for _, n := range s.Notes {
		found = found || strings.Contains(n, "skipped /root/.cache/pip: line 2 is left alone (off) and writes /root/.cache/pip without a cache")
	}
	if !found {
		t.Errorf("notes %q", s.Notes)
	}
}

// TestInputStepsAreTheClients: the ops of the build's frontend inputs are
// the client's own definitions (its cache keys are its own): they keep
// their digests, get no probe either, and what they download stays in the
// layers, so a Dockerfile step after them caches no directory they wrote.
func TestInputStepsAreTheClients(t *testing.T) {
	input := run(base(), "pip install flask")
	inDef := marshal(t, input)
	given := map[digest.Digest]bool{}
	for _, dt := range inDef.Def {
		given[digest.FromBytes(dt)] = true
	}
	def := marshal(t, run(input, "pip install requests", at(3)))
	for _, probe := range []bool{false, true} {
		res := transform(t, def, Options{Inputs: given, Probe: probe})
		in, later := res.Steps[0], res.Steps[1]
		if in.Rewritten || in.Probed || in.Digest != in.OldDigest || len(in.Mounts) != 0 || in.Off != "" ||
			!hasNote(in, "left alone: "+fromInput) {
			t.Fatalf("probe %v: the input's step %+v", probe, in)
		}
		if mountOf(later, "/root/.cache/pip") != nil || later.Probed != probe {
			t.Fatalf("probe %v: the Dockerfile's step %+v", probe, later)
		}
	}
	// Without Inputs the same op is the Dockerfile's and is cached.
	if res := transform(t, def, Options{}); !res.Steps[0].Rewritten {
		t.Fatalf("not an input, yet left alone: %+v", res.Steps[0])
	}
}
