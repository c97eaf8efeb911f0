package frontend

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autocache/autocache/llbtransform"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	fstypes "github.com/tonistiigi/fsutil/types"
)

// recordingClient is a gateway client that only records Solve requests.
type recordingClient struct {
	client.Client
	reqs []client.SolveRequest
}

func (r *recordingClient) Solve(ctx context.Context, req client.SolveRequest) (*client.Result, error) {
	r.reqs = append(r.reqs, req)
	return client.NewResult(), nil
}

func pipDef(t *testing.T) *pb.Definition {
	t.Helper()
	p := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	st := llb.Image("python:3.11-slim", llb.Platform(p)).
		Run(llb.Args([]string{"/bin/sh", "-c", "pip install --no-cache-dir flask"})).Root()
	def, err := st.Marshal(context.Background(), llb.Platform(p))
	if err != nil {
		t.Fatal(err)
	}
	return def.ToPB()
}

func cacheMounts(t *testing.T, def *pb.Definition) []string {
	t.Helper()
	var out []string
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.Unmarshal(dt); err != nil {
			t.Fatal(err)
		}
		for _, m := range op.GetExec().GetMounts() {
			if m.MountType == pb.MountType_CACHE {
				out = append(out, m.CacheOpt.ID)
			}
		}
	}
	return out
}

func TestSolveRewritesDefinitions(t *testing.T) {
	rec := &recordingClient{}
	rc := &rewritingClient{Client: rec, opt: mustOptions(t, map[string]string{"build-arg:BUILDKIT_CACHE_MOUNT_NS": "team"})}
	def := pipDef(t)
	if _, err := rc.Solve(context.Background(), client.SolveRequest{Definition: def}); err != nil {
		t.Fatal(err)
	}
	if got := cacheMounts(t, rec.reqs[0].Definition); !slices.Equal(got, []string{"team//root/.cache/pip", "team/from:docker.io/library/python:3.11-slim//root/.cache/pip/wheels"}) {
		t.Fatalf("cache mounts %v", got)
	}
	if n := rc.rewritten.Load(); n != 1 {
		t.Fatalf("rewritten %d", n)
	}
	// Requests without a definition (forwarding to another frontend) pass through.
	fwd := client.SolveRequest{Frontend: "gateway.v0", FrontendOpt: map[string]string{"source": "x"}}
	if _, err := rc.Solve(context.Background(), fwd); err != nil {
		t.Fatal(err)
	}
	if rec.reqs[1].Frontend != "gateway.v0" || rec.reqs[1].Definition != nil {
		t.Fatal("forwarding request changed")
	}
}

func TestSolveFailsOpen(t *testing.T) {
	rec := &recordingClient{}
	rc := &rewritingClient{Client: rec}
	bad := &pb.Definition{Def: [][]byte{[]byte("not an op")}}
	if _, err := rc.Solve(context.Background(), client.SolveRequest{Definition: bad}); err != nil {
		t.Fatal(err)
	}
	if rec.reqs[0].Definition != bad {
		t.Fatal("an unreadable definition was not passed on as it was")
	}
}

func mustOptions(t *testing.T, opts map[string]string) llbtransform.Options {
	t.Helper()
	cfg, err := ParseConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	return llbtransform.Options{CacheNS: cfg.CacheNS, Scope: cfg.Scope, Managers: cfg.Managers}
}

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		opts     map[string]string
		off      bool
		managers []string
		err      bool
	}{
		{opts: map[string]string{}},
		{opts: map[string]string{"build-arg:AUTOCACHE": "off"}, off: true},
		{opts: map[string]string{"build-arg:AUTOCACHE": "OFF"}, off: true},
		{opts: map[string]string{"build-arg:AUTOCACHE": "on"}},
		{opts: map[string]string{"build-arg:AUTOCACHE_MANAGERS": "apt, Go"}, managers: []string{"apt", "go"}},
		{opts: map[string]string{"build-arg:AUTOCACHE_MANAGERS": "apt,nmp"}, err: true},
	} {
		cfg, err := ParseConfig(tc.opts)
		if (err != nil) != tc.err || !tc.err && (cfg.Off != tc.off || !slices.Equal(cfg.Managers, tc.managers)) {
			t.Errorf("%v: got %+v, %v", tc.opts, cfg, err)
		}
	}
}

func TestParseConfigScope(t *testing.T) {
	for _, tc := range []struct {
		val   *string
		scope string
		err   string // substring of the error; "" = valid
	}{
		{val: nil},
		{val: ptr("team-a"), scope: "team-a"},
		{val: ptr("  Team_1.prod "), scope: "Team_1.prod"},
		{val: ptr(strings.Repeat("x", 128)), scope: strings.Repeat("x", 128)},
		{val: ptr(""), err: "AUTOCACHE_SCOPE is set but empty"},
		{val: ptr("  "), err: "AUTOCACHE_SCOPE is set but empty"},
		{val: ptr("a/b"), err: `AUTOCACHE_SCOPE "a/b": only letters`},
		{val: ptr("a,b"), err: "AUTOCACHE_SCOPE"},
		{val: ptr("a b"), err: "AUTOCACHE_SCOPE"},
		{val: ptr("@a"), err: "AUTOCACHE_SCOPE"},
		{val: ptr("é"), err: "AUTOCACHE_SCOPE"},
		{val: ptr(strings.Repeat("x", 129)), err: "at most 128"},
	} {
		opts := map[string]string{}
		if tc.val != nil {
			opts["build-arg:AUTOCACHE_SCOPE"] = *tc.val
		}
		cfg, err := ParseConfig(opts)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%v: %v", opts, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%v: error %v, want %q", opts, err, tc.err)
		case tc.err == "" && cfg.Scope != tc.scope:
			t.Errorf("%v: scope %q, want %q", opts, cfg.Scope, tc.scope)
		}
	}
}

func ptr(s string) *string { return &s }

func TestSolveUsesScope(t *testing.T) {
	rec := &recordingClient{}
	rc := &rewritingClient{Client: rec, opt: mustOptions(t, map[string]string{
		"build-arg:BUILDKIT_CACHE_MOUNT_NS": "team", "build-arg:AUTOCACHE_SCOPE": "tenant-1"})}
	if _, err := rc.Solve(context.Background(), client.SolveRequest{Definition: pipDef(t)}); err != nil {
		t.Fatal(err)
	}
	if got := cacheMounts(t, rec.reqs[0].Definition); !slices.Equal(got, []string{"team/@tenant-1//root/.cache/pip", "team/@tenant-1/from:docker.io/library/python:3.11-slim//root/.cache/pip/wheels"}) {
		t.Fatalf("cache mounts %v", got)
	}
}

// fakeFS is a directory tree for listTree: path → entries (name, isDir).
type fakeFS map[string][]string

func (f fakeFS) ReadDir(_ context.Context, req client.ReadDirRequest) ([]*fstypes.Stat, error) {
	names, ok := f[req.Path]
	if !ok {
		return nil, errors.New("walking: no such file or directory")
	}
	var out []*fstypes.Stat
	for _, n := range names {
		name, dir := strings.CutSuffix(n, "/")
		if req.IncludePattern != "" && name != req.IncludePattern {
			continue
		}
		st := &fstypes.Stat{Path: name, Mode: 0o644}
		if dir {
			st.Mode = uint32(os.ModeDir | 0o755)
		}
		out = append(out, st)
	}
	return out, nil
}

func TestListTree(t *testing.T) {
	fs := fakeFS{
		"/":                               {"var/", "go/"},
		"/var":                            {"cache/", "lib/"},
		"/var/cache":                      {"apt/"},
		"/var/cache/apt":                  {"archives/"},
		"/var/cache/apt/archives":         {"lock", "partial/"},
		"/var/cache/apt/archives/partial": {},
		"/var/lib":                        {},
		"/go":                             {"pkg/"},
		"/go/pkg":                         {"mod/"},
		"/go/pkg/mod":                     {"a/", "b/"},
		"/go/pkg/mod/a":                   {"1", "2", "3"},
		"/go/pkg/mod/b":                   {"4"},
	}
	ctx := context.Background()
	for _, tc := range []struct {
		dir   string
		limit int
		want  []string
		err   bool
	}{
		{"/var/cache/apt", 64, []string{"archives", "archives/lock", "archives/partial"}, false},
		{"/var/lib/apt/lists", 64, nil, false}, // missing: nothing there
		{"/nope/x", 64, nil, false},
		{"/go/pkg/mod", 3, []string{"a", "a/1", "a/2"}, false},
		{"/go/pkg/mod/a/1", 64, nil, true}, // a file: not a directory we can prove empty
	} {
		got, err := listTree(ctx, fs, tc.dir, tc.limit)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, %v; want %q (error %v)", tc.dir, got, err, tc.want, tc.err)
		}
	}
}

// panickingImages panics when the transform asks it about an image.
type panickingImages struct{}

func (panickingImages) Accounts(context.Context, *pb.Definition) ([]byte, []byte, error) {
	panic("boom")
}
func (panickingImages) Contents(context.Context, *pb.Definition, string) ([]string, error) {
	panic("boom")
}
func (panickingImages) OSRelease(context.Context, *pb.Definition) ([]byte, error) { panic("boom") }

// TestSolvePanicFailsOpen: a panic inside the transform (here from
// Images.Contents) must leave the definition as upstream made it.
func TestSolvePanicFailsOpen(t *testing.T) {
	rec := &recordingClient{}
	rc := &rewritingClient{Client: rec, opt: llbtransform.Options{Images: panickingImages{}}}
	def := pipDef(t)
	if _, err := rc.Solve(context.Background(), client.SolveRequest{Definition: def}); err != nil {
		t.Fatal(err)
	}
	if rec.reqs[0].Definition != def {
		t.Fatal("the definition was changed after a panic")
	}
}

// fakeFiles is a filesystem for readOSRelease: path → contents.
type fakeFiles struct {
	files map[string]string
	reqs  []client.ReadRequest
}

func (f *fakeFiles) ReadFile(_ context.Context, req client.ReadRequest) ([]byte, error) {
	f.reqs = append(f.reqs, req)
	if c, ok := f.files[req.Filename]; ok {
		return []byte(c), nil
	}
	return nil, errors.New("not found")
}

func TestReadOSRelease(t *testing.T) {
	ubi := "ID=\"rhel\"\nVERSION_ID=\"9.6\"\n"
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string
		err   bool
		reads int
	}{
		{"/etc/os-release", map[string]string{"/etc/os-release": ubi, "/usr/lib/os-release": "ID=other"}, ubi, false, 1},
		{"only /usr/lib/os-release", map[string]string{"/usr/lib/os-release": ubi}, ubi, false, 2},
		{"neither", nil, "", true, 2},
	} {
		f := &fakeFiles{files: c.files}
		b, err := readOSRelease(context.Background(), f)
		if string(b) != c.want || (err != nil) != c.err || len(f.reqs) != c.reads {
			t.Errorf("%s: %q, %v after %d reads", c.name, b, err, len(f.reqs))
		}
		for _, r := range f.reqs {
			if r.Range == nil || r.Range.Length != maxOSRelease {
				t.Errorf("%s: read of %s is not bounded: %+v", c.name, r.Filename, r.Range)
			}
		}
	}
	// Scratch (no ref) has no answer and no error: unknown.
	rc := &rewritingClient{Client: &recordingClient{}}
	if b, err := rc.OSRelease(context.Background(), pipDef(t)); b != nil || err != nil {
		t.Errorf("scratch: %q, %v", b, err)
	}
}

// The caches a build's steps got are collected over every Solve (each
// platform of a build solves on its own), deduplicated, for the result
// metadata.
func TestSolveCollectsCaches(t *testing.T) {
	rc := &rewritingClient{Client: &recordingClient{}, opt: mustOptions(t, nil)}
	for range 2 {
		if _, err := rc.Solve(context.Background(), client.SolveRequest{Definition: pipDef(t)}); err != nil {
			t.Fatal(err)
		}
	}
	got := rc.caches()
	var ids []string
	for _, c := range got {
		ids = append(ids, c.ID)
		if c.Sharing != "shared" || c.Seed || c.Mode != "0755" || !slices.Equal(c.Managers, []string{"pip"}) {
			t.Errorf("cache %+v", c)
		}
	}
	if !slices.Equal(ids, []string{"//root/.cache/pip", "/from:docker.io/library/python:3.11-slim//root/.cache/pip/wheels"}) {
		t.Fatalf("caches %v", ids)
	}
}

// concurrentFS is a fakeFS whose reads wait for a second one in flight
// (or for 200 ms), counting the reads and the most in flight at once.
type concurrentFS struct {
	fakeFS
	mu              sync.Mutex
	reads, inFlight int
	most            int
	two             chan struct{}
}

func (c *concurrentFS) ReadDir(ctx context.Context, req client.ReadDirRequest) ([]*fstypes.Stat, error) {
	c.mu.Lock()
	c.reads++
	c.inFlight++
	c.most = max(c.most, c.inFlight)
	if c.inFlight == 2 && c.two != nil {
		close(c.two)
		c.two = nil
	}
	two := c.two
	c.mu.Unlock()
	if two != nil {
		select {
		case <-two:
		case <-time.After(200 * time.Millisecond):
		}
	}
	c.mu.Lock()
	c.inFlight--
	c.mu.Unlock()
	return c.fakeFS.ReadDir(ctx, req)
}

// TestReadsOfALevelAtOnce: each read of a filesystem is a round trip in
// which BuildKit mounts it, so the directories of one level of a listing,
// and the parents that say whether a path exists, are read at once; the
// answers and the number of reads are the ones reading one by one gives.
func TestReadsOfALevelAtOnce(t *testing.T) {
	tree := fakeFS{"/": {"go/"}, "/go": {"pkg/"}, "/go/pkg": {"mod/"}, "/go/pkg/mod": {"a/", "b/"}, "/go/pkg/mod/a": {"1"}, "/go/pkg/mod/b": {"2"}}
	ctx := context.Background()
	fs := &concurrentFS{fakeFS: tree, two: make(chan struct{})}
	got, err := listTree(ctx, fs, "/go/pkg/mod", 64)
	if err != nil || !slices.Equal(got, []string{"a", "a/1", "b", "b/2"}) {
		t.Fatalf("listTree: %q, %v", got, err)
	}
	if fs.most < 2 || fs.reads != 3 {
		t.Errorf("listing: %d reads, at most %d at once; want 3 reads (the directory, then a and b at once)", fs.reads, fs.most)
	}
	fs = &concurrentFS{fakeFS: tree, two: make(chan struct{})}
	if ok, err := exists(ctx, fs, "/go/pkg/cache/download"); ok || err != nil {
		t.Fatalf("exists: %v, %v", ok, err)
	}
	if fs.most < 2 || fs.reads != 4 {
		t.Errorf("exists: %d reads, at most %d at once; want the 4 parents at once", fs.reads, fs.most)
	}
}
