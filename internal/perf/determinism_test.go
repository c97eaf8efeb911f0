package perf

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/autocache/autocache/llbtransform"
	"github.com/moby/buildkit/solver/pb"
	"google.golang.org/protobuf/proto"
)

// TestTransformIsDeterministic: over the examples, the corpus and the
// synthetic files, with image facts and with the probe, a transform of the
// same definition gives the same bytes and the same report, also after
// other definitions went through the same process (what a transform
// keeps — parsers, generated ops — must not leak into the next).
func TestTransformIsDeterministic(t *testing.T) {
	ctx := context.Background()
	var defs []*pb.Definition
	var names []string
	for _, c := range cases(t) {
		def, err := Convert(ctx, c.Dockerfile)
		if err != nil {
			t.Fatal(err)
		}
		defs, names = append(defs, def), append(names, c.Name)
	}
	for _, opt := range []llbtransform.Options{{}, Options(), {Images: Instant{}, Probe: true}} {
		first := make([][]byte, len(defs))
		for i, def := range defs {
			first[i] = outcome(t, def, opt)
		}
		for i := len(defs) - 1; i >= 0; i-- { // the other way round
			if got := outcome(t, defs[i], opt); !bytes.Equal(got, first[i]) {
				t.Errorf("%s: a second transform differs (images %v, probe %v)", names[i], opt.Images != nil, opt.Probe)
			}
		}
	}
}

// outcome is a transform's definition, deterministically marshalled, and
// its report.
func outcome(t *testing.T, def *pb.Definition, opt llbtransform.Options) []byte {
	res, err := llbtransform.Transform(context.Background(), def, opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(res.Def)
	if err != nil {
		t.Fatal(err)
	}
	steps, err := json.Marshal(res.Steps)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, steps...)
}
