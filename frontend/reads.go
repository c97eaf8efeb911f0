package frontend

import (
	"context"
	"encoding/json"
	"sync/atomic"

	"github.com/moby/buildkit/frontend/gateway/client"
	fstypes "github.com/tonistiigi/fsutil/types"
)

// MetaReads is the result metadata key that says what the build asked the
// gateway for its image facts (Reads, JSON): each one is a round trip on a
// build where nothing else changed, so `--metadata-file` shows what
// autocache cost a build beyond its transform (docs/performance.md).
const MetaReads = "frontend.autocache.reads"

// Reads counts one build's gateway round trips for image facts.
type Reads struct {
	Solves int64 `json:"solves"` // filesystems built to be read (each once per build)
	// The transform's questions, each answered once per filesystem (and
	// directory): accounts of a step's root, contents of a directory,
	// os-release of a base image.
	Accounts  int64 `json:"accounts"`
	Contents  int64 `json:"contents"`
	OSRelease int64 `json:"osRelease"`
	// The gateway's reads that answered them.
	ReadFile int64 `json:"readFile"`
	ReadDir  int64 `json:"readDir"`
}

// readCounts is Reads, counted as they happen (platforms solve concurrently).
type readCounts struct {
	solves, accounts, contents, osRelease, readFile, readDir atomic.Int64
}

func (c *readCounts) snapshot() Reads {
	return Reads{Solves: c.solves.Load(), Accounts: c.accounts.Load(), Contents: c.contents.Load(),
		OSRelease: c.osRelease.Load(), ReadFile: c.readFile.Load(), ReadDir: c.readDir.Load()}
}

func (c *readCounts) encode() []byte {
	b, _ := json.Marshal(c.snapshot()) // a struct of ints: cannot fail
	return b
}

// countedRef is a solved filesystem whose reads are counted.
type countedRef struct {
	client.Reference
	n *readCounts
}

func (r countedRef) ReadFile(ctx context.Context, req client.ReadRequest) ([]byte, error) {
	r.n.readFile.Add(1)
	return r.Reference.ReadFile(ctx, req)
}

func (r countedRef) ReadDir(ctx context.Context, req client.ReadDirRequest) ([]*fstypes.Stat, error) {
	r.n.readDir.Add(1)
	return r.Reference.ReadDir(ctx, req)
}
