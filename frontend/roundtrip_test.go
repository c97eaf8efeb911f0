package frontend

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	fstypes "github.com/tonistiigi/fsutil/types"
)

// countingGateway wraps a gateway client and counts the frontend's round
// trips for image facts: each solve it evaluates (a filesystem the
// transform asks about) and what is then read of that filesystem.
type countingGateway struct {
	client.Client

	mu    sync.Mutex
	reads []factRead // one per evaluated solve, in order
}

// factRead is one evaluated solve: the filesystem solved (its head op)
// and the kinds of read made of it ("accounts", "os-release",
// "contents /dir").
type factRead struct {
	head  string
	kinds map[string]bool
}

func (c *countingGateway) Solve(ctx context.Context, req client.SolveRequest) (*client.Result, error) {
	res, err := c.Client.Solve(ctx, req)
	if err != nil || res == nil || !req.Evaluate || req.Definition == nil {
		return res, err
	}
	c.mu.Lock()
	c.reads = append(c.reads, factRead{head: head(req.Definition), kinds: map[string]bool{}})
	r := &c.reads[len(c.reads)-1]
	c.mu.Unlock()
	if res.Ref != nil {
		res.SetRef(countingRef{Reference: res.Ref, c: c, r: r})
	}
	return res, nil
}

// head is what a definition builds: its terminal op's input.
func head(def *pb.Definition) string {
	var term pb.Op
	if len(def.Def) == 0 || term.Unmarshal(def.Def[len(def.Def)-1]) != nil || len(term.Inputs) != 1 {
		return "?"
	}
	return fmt.Sprintf("%s#%d", term.Inputs[0].Digest, term.Inputs[0].Index)
}

type countingRef struct {
	client.Reference
	c *countingGateway
	r *factRead
}

func (r countingRef) kind(k string) {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	if len(r.r.kinds) == 0 || !r.r.kinds["accounts"] { // /etc/group after /etc/passwd is the same read
		r.r.kinds[k] = true
	}
}

func (r countingRef) ReadFile(ctx context.Context, req client.ReadRequest) ([]byte, error) {
	switch {
	case req.Filename == "/etc/passwd" || req.Filename == "/etc/group":
		r.kind("accounts")
	case strings.HasSuffix(req.Filename, "os-release"):
		r.kind("os-release")
	default:
		r.kind("file " + req.Filename)
	}
	return r.Reference.ReadFile(ctx, req)
}

func (r countingRef) ReadDir(ctx context.Context, req client.ReadDirRequest) ([]*fstypes.Stat, error) {
	r.c.mu.Lock()
	empty := len(r.r.kinds) == 0
	r.c.mu.Unlock()
	if empty { // the listing's top; the rest of it walks below
		r.kind("contents " + req.Path)
	}
	return r.Reference.ReadDir(ctx, req)
}

// perKind counts the evaluated solves per (filesystem, kind of read).
func (c *countingGateway) perKind() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := map[string]int{}
	for _, r := range c.reads {
		for k := range r.kinds {
			n[r.head+" "+k]++
		}
		if len(r.kinds) == 0 {
			n[r.head+" (solved, not read)"]++
		}
	}
	return n
}

// TestImageReadsPerBuild: through the gateway, a build reads each fact of
// each filesystem at most once (one solve and one read per image and
// directory listed, per image for os-release, per root filesystem for the
// accounts of a non-root step), and a Dockerfile with no package manager
// reads nothing, whoever its steps run as.
func TestImageReadsPerBuild(t *testing.T) {
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
	count := func(t *testing.T, dockerfile string) (map[string]int, *countingGateway) {
		g := newGateway(dockerfile, nil, image)
		c := &countingGateway{Client: g}
		if _, err := Build(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		return c.perKind(), c
	}
	t.Run("managers", func(t *testing.T) {
		n, c := count(t, managers)
		kinds := map[string]int{}
		for k, v := range n {
			if v > 1 {
				t.Errorf("%d solves for %s", v, k)
			}
			_, kind, _ := strings.Cut(k, " ")
			kinds[strings.Fields(kind)[0]]++
		}
		// The test reads what it means to count: each kind happens.
		for _, k := range []string{"accounts", "os-release", "contents"} {
			if kinds[k] == 0 {
				t.Errorf("no %s read in %d solves: %v", k, len(c.reads), n)
			}
		}
		t.Logf("%d solves for facts: %v", len(c.reads), n)
	})
	t.Run("no package manager", func(t *testing.T) {
		if n, _ := count(t, none); len(n) > 0 {
			t.Errorf("reads for a Dockerfile with no package manager: %v", n)
		}
	})
}
