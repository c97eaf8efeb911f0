package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
)

// countingGateway wraps a gateway client and counts the frontend's round
// trips for image facts: the solves it evaluates (a filesystem the
// transform asks about), by what they build.
type countingGateway struct {
	client.Client

	mu     sync.Mutex
	solves map[string]int // by head (head)
}

func (c *countingGateway) Solve(ctx context.Context, req client.SolveRequest) (*client.Result, error) {
	if req.Evaluate && req.Definition != nil {
		c.mu.Lock()
		if c.solves == nil {
			c.solves = map[string]int{}
		}
		c.solves[head(req.Definition)]++
		c.mu.Unlock()
	}
	return c.Client.Solve(ctx, req)
}

// head is what a definition builds: its terminal op's input.
func head(def *pb.Definition) string {
	var term pb.Op
	if len(def.Def) == 0 || term.Unmarshal(def.Def[len(def.Def)-1]) != nil || len(term.Inputs) != 1 {
		return "?"
	}
	return fmt.Sprintf("%s#%d", term.Inputs[0].Digest, term.Inputs[0].Index)
}

// TestImageSolvesPerBuild: through the gateway, a build solves each
// filesystem it reads facts of once, however many it reads (a listing per
// cache directory, os-release, accounts), and a Dockerfile with no package
// manager solves none, whoever its steps run as. (That each fact is read
// once: llbtransform's TestImageFactsReadOnce.)
func TestImageSolvesPerBuild(t *testing.T) {
	const managers = `FROM python:3.12 AS a
RUN pip install flask
RUN pip install requests
USER app
RUN pip install --user httpx
RUN make
RUN npm install -g left-pad

FROM python:3.12 AS b
RUN pip install django
USER app
RUN pip install --user rich

FROM registry.access.redhat.com/ubi9/ubi-minimal AS c
RUN microdnf install -y git
RUN microdnf install -y make

FROM python:3.12
COPY --from=a /a /a
COPY --from=b /b /b
COPY --from=c /c /c
`
	const none = `FROM python:3.12 AS a
RUN make
USER app
RUN ./configure && make install
RUN echo done

FROM debian:bookworm
USER app
COPY --from=a /a /a
RUN ls -la /a
`
	// count builds dockerfile and returns the solves the gateway saw and
	// what the result's metadata says the build asked (MetaReads), which
	// must agree.
	count := func(t *testing.T, dockerfile string) (map[string]int, Reads) {
		g := newGateway(dockerfile, nil, image)
		c := &countingGateway{Client: g}
		res, err := Build(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		var reads Reads
		if err := json.Unmarshal(res.Metadata[MetaReads], &reads); err != nil {
			t.Fatalf("%s: %v (%q)", MetaReads, err, res.Metadata[MetaReads])
		}
		total := 0
		for _, v := range c.solves {
			total += v
		}
		if reads.Solves != int64(total) {
			t.Errorf("%s says %d solves, the gateway saw %d", MetaReads, reads.Solves, total)
		}
		return c.solves, reads
	}
	t.Run("managers", func(t *testing.T) {
		n, reads := count(t, managers)
		// Every question took reads; os-release was asked of the ubi
		// image (microdnf), accounts of the app user's roots.
		if reads.Contents == 0 || reads.OSRelease == 0 || reads.Accounts == 0 || reads.ReadDir < reads.Contents || reads.ReadFile < reads.OSRelease+reads.Accounts {
			t.Errorf("%s: %+v", MetaReads, reads)
		}
		for h, v := range n {
			if v > 1 {
				t.Errorf("%s solved %d times", h, v)
			}
		}
		// The build reads facts of the two images and of the root
		// filesystems of its non-root steps: the count can fail.
		if len(n) < 3 {
			t.Errorf("only %d filesystems solved: %v", len(n), n)
		}
		t.Logf("%d filesystems solved: %v; %s: %+v", len(n), n, MetaReads, reads)
	})
	t.Run("no package manager", func(t *testing.T) {
		if n, reads := count(t, none); len(n) > 0 || reads != (Reads{}) {
			t.Errorf("solves for a Dockerfile with no package manager: %v (%s: %+v)", n, MetaReads, reads)
		}
	})
}
