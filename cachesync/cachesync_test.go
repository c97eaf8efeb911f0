package cachesync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autocache/autocache/cachearchive"
	"github.com/autocache/autocache/cacheinfo"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var amd64 = ocispecs.Platform{OS: "linux", Architecture: "amd64"}

func TestParseDescription(t *testing.T) {
	for _, tc := range []struct {
		d, target, id string
		ok            bool
	}{
		{`cached mount /root/.cache/pip from exec /bin/sh -c pip install -r requirements.txt with id "//root/.cache/pip"`, "/root/.cache/pip", "//root/.cache/pip", true},
		{`cached mount /var/cache/apt from exec /bin/sh -c echo " with id \"x\"" with id "/linux/amd64//var/cache/apt"`, "/var/cache/apt", "/linux/amd64//var/cache/apt", true},
		{`cached mount /cache from exec true`, "/cache", "/cache", true},
		{`local source for context`, "", "", false},
		{`cached mount /x from exec y with id "unterminated`, "", "", false},
	} {
		target, id, ok := parseDescription(tc.d)
		if target != tc.target || id != tc.id || ok != tc.ok {
			t.Errorf("parseDescription(%q) = %q, %q, %v", tc.d, target, id, ok)
		}
	}
}

func TestOpenStore(t *testing.T) {
	for loc, want := range map[string]string{
		"out/caches":                        "out/caches",
		"oci-layout:///tmp/l":               "oci-layout:///tmp/l:autocache-caches",
		"oci-layout://l:v1":                 "oci-layout://l:v1",
		"oci-layout:///a:b/c":               "oci-layout:///a:b/c:autocache-caches",
		"docker-image://reg.example/caches": "docker-image://reg.example/caches:latest",
		"docker-image://caches:ci":          "docker-image://docker.io/library/caches:ci",
	} {
		s, err := openStore(loc, amd64)
		if err != nil || s.String() != want {
			t.Errorf("openStore(%q) = %v, %v; want %s", loc, s, err, want)
		}
	}
	for loc, want := range map[string]string{
		"":                       "no location",
		"s3://bucket":            "unknown kind of location",
		"docker-image://x/UPPER": "must be lowercase",
		"oci-layout://":          "want oci-layout://DIR",
	} {
		if _, err := openStore(loc, amd64); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("openStore(%q): error %v, want %q", loc, err, want)
		}
	}
}

var (
	pip  = cacheinfo.Cache{ID: "//root/.cache/pip", Target: "/root/.cache/pip", Sharing: "shared", Mode: "0755", Managers: []string{"pip"}}
	apt  = cacheinfo.Cache{ID: "/linux/amd64//var/cache/apt", Target: "/var/cache/apt", Sharing: "locked", Mode: "0755", Managers: []string{"apt"}}
	npmU = cacheinfo.Cache{ID: "//home/node/.npm", Target: "/home/node/.npm", Sharing: "shared", UID: 1000, GID: 1000, Mode: "0755", Seed: true, Managers: []string{"npm"}}
)

// archiveOf packs a small tree with one file of body into a file in dir.
func archiveOf(t *testing.T, dir, body string) (string, cachearchive.Stats) {
	t.Helper()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	st, err := cachearchive.Pack(context.Background(), src, &buf)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(dir, "archive-")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(buf.Bytes())
	f.Close()
	return f.Name(), st
}

// export writes caches into st the way Export does, with archives made here.
func export(t *testing.T, st store, caches ...cacheinfo.Cache) []Entry {
	t.Helper()
	ctx := context.Background()
	if err := st.begin(); err != nil {
		t.Fatal(err)
	}
	var entries []Entry
	for i, c := range caches {
		f, err := st.create()
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		name, stats := archiveOf(t, t.TempDir(), fmt.Sprintf("contents %d", i))
		b, _ := os.ReadFile(name)
		os.WriteFile(f.Name(), b, 0o644)
		e := Entry{Cache: c, Stats: stats}
		if err := st.add(ctx, &e, f.Name()); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	if err := st.commit(ctx, Index{Version: IndexVersion, Image: "reg/autocache:1", Created: time.Now().UTC(), Caches: entries}); err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestDirStoreRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "caches")
	export(t, &dirStore{dir: dir}, pip, apt, npmU)
	idx, err := (&dirStore{dir: dir}).index(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Caches) != 3 || idx.Image != "reg/autocache:1" {
		t.Fatalf("index %+v", idx)
	}
	for _, e := range idx.Caches {
		if e.Archive != ArchiveName(e.Cache) {
			t.Errorf("archive %q", e.Archive)
		}
		d, name, cleanup, err := (&dirStore{dir: dir}).fetch(context.Background(), e)
		if err != nil || d != dir || name != e.Archive {
			t.Errorf("fetch %s: %s %s %v", e.ID, d, name, err)
		}
		cleanup()
	}
	// A second export replaces the first: apt's archive goes, nothing
	// temporary stays.
	export(t, &dirStore{dir: dir}, pip)
	names, _ := os.ReadDir(dir)
	if len(names) != 2 {
		t.Errorf("after the second export: %v", names)
	}
	// An export that fails leaves the directory as it was.
	before, _ := os.ReadFile(filepath.Join(dir, IndexFile))
	d := &dirStore{dir: dir}
	if err := d.begin(); err != nil {
		t.Fatal(err)
	}
	f, _ := d.create()
	f.Close()
	d.abort()
	after, _ := os.ReadFile(filepath.Join(dir, IndexFile))
	names, _ = os.ReadDir(dir)
	if !bytes.Equal(before, after) || len(names) != 2 {
		t.Errorf("an aborted export changed the directory: %v", names)
	}
}

func TestDirStoreBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	entries := export(t, &dirStore{dir: dir}, pip, apt)
	// Truncate pip's archive: fetch refuses it, naming the cache and file.
	p := filepath.Join(dir, entries[0].Archive)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)/2], 0o644)
	_, _, _, err := (&dirStore{dir: dir}).fetch(ctx, entries[0])
	if err == nil || !strings.Contains(err.Error(), "//root/.cache/pip") || !strings.Contains(err.Error(), "corrupt or truncated") {
		t.Errorf("truncated archive: %v", err)
	}
	os.Remove(p)
	if _, _, _, err := (&dirStore{dir: dir}).fetch(ctx, entries[0]); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing archive: %v", err)
	}
	for name, tc := range map[string]struct{ index, err string }{
		"no index":      {"", "has no autocache-caches.json"},
		"not JSON":      {"{", "not an autocache cache index"},
		"version":       {`{"version":2,"caches":[]}`, "index format version 2"},
		"escaping name": {`{"version":1,"caches":[{"id":"//x","target":"/x","sharing":"shared","mode":"0755","digest":"sha256:` + strings.Repeat("a", 64) + `","size":1,"archive":"../../etc/passwd"}]}`, "is not a file name"},
		"bad digest":    {`{"version":1,"caches":[{"id":"//x","target":"/x","sharing":"shared","mode":"0755","digest":"md5:1","size":1,"archive":"x"}]}`, "not a sha256 digest"},
		"twice":         {`{"version":1,"caches":[` + strings.Repeat(`{"id":"//x","target":"/x","sharing":"shared","mode":"0755","digest":"sha256:`+strings.Repeat("a", 64)+`","size":1,"archive":"x"},`, 2) + `{}]}`, "listed twice"},
	} {
		d := t.TempDir()
		if tc.index != "" {
			os.WriteFile(filepath.Join(d, IndexFile), []byte(tc.index), 0o644)
		}
		if _, err := (&dirStore{dir: d}).index(ctx); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want %q", name, err, tc.err)
		}
	}
	if _, err := (&dirStore{dir: filepath.Join(dir, "nope")}).index(ctx); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing directory: %v", err)
	}
}

func TestOCILayoutRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	export(t, &ociStore{layout: dir, tag: DefaultTag, platform: amd64}, pip, npmU)
	// Another image in the same layout doesn't disturb it.
	export(t, &ociStore{layout: dir, tag: "other", platform: amd64}, apt)
	o := &ociStore{layout: dir, tag: DefaultTag, platform: amd64}
	idx, err := o.index(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Caches) != 2 || idx.Caches[0].ID != pip.ID || !idx.Caches[1].Seed || idx.Image != "reg/autocache:1" {
		t.Fatalf("index %+v", idx)
	}
	for _, e := range idx.Caches {
		if _, _, _, err := o.fetch(ctx, e); err != nil {
			t.Error(err)
		}
	}
	// The manifest names each layer's cache.
	var index ocispecs.Index
	b, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	json.Unmarshal(b, &index)
	var m ocispecs.Manifest
	b, _ = os.ReadFile(o.blobPath(index.Manifests[0].Digest))
	json.Unmarshal(b, &m)
	if len(m.Layers) != 2 || m.Layers[0].Annotations[AnnotationCacheID] != pip.ID || m.Layers[0].MediaType != ocispecs.MediaTypeImageLayerGzip {
		t.Errorf("layers %+v", m.Layers)
	}
	if _, err := (&ociStore{layout: dir, tag: "nope"}).index(ctx); err == nil || !strings.Contains(err.Error(), `no image tagged "nope"`) {
		t.Errorf("unknown tag: %v", err)
	}
	if _, err := (&ociStore{layout: t.TempDir(), tag: DefaultTag}).index(ctx); err == nil || !strings.Contains(err.Error(), "not an OCI layout") {
		t.Errorf("empty directory: %v", err)
	}
}

// A registry that refuses: the error names the image and what the
// registry said.
func TestRegistryRefuses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
	}))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/team/caches:ci"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := &ociStore{ref: ref, platform: amd64}
	if err := o.begin(); err != nil {
		t.Fatal(err)
	}
	f, _ := o.create()
	f.Close()
	name, stats := archiveOf(t, t.TempDir(), "x")
	b, _ := os.ReadFile(name)
	os.WriteFile(f.Name(), b, 0o644)
	e := Entry{Cache: pip, Stats: stats}
	if err := o.add(ctx, &e, f.Name()); err != nil {
		t.Fatal(err)
	}
	err := o.commit(ctx, Index{Version: IndexVersion, Created: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "pushing to docker-image://"+ref) || !strings.Contains(err.Error(), "403") {
		t.Errorf("push: %v", err)
	}
	if _, err := os.Stat(o.layout); !os.IsNotExist(err) {
		t.Errorf("the temporary layout stays: %v", err)
	}
	if _, err := (&ociStore{ref: ref}).index(ctx); err == nil || !strings.Contains(err.Error(), "docker-image://"+ref) || !strings.Contains(err.Error(), "403") {
		t.Errorf("pull: %v", err)
	}
}

func TestPickExport(t *testing.T) {
	onBuilder := []OnBuilder{{Cache: withSharing(apt, "locked"), Size: 300}, {Cache: withSharing(pip, "locked"), Size: 100}}
	seeded := []string{npmU.ID}
	sum := &Summary{}
	got, err := pickExport(onBuilder, seeded, nil, nil, "unix:///b.sock", sum)
	if err != nil || len(got) != 2 || len(sum.Skipped) != 1 || sum.Skipped[0].Cache.ID != npmU.ID {
		t.Errorf("all: %v %v %+v", got, err, sum.Skipped)
	}
	// From metadata: exact caches (the seeded one too), one missing.
	missing := cacheinfo.Cache{ID: "//go/pkg/mod", Target: "/go/pkg/mod", Sharing: "shared", Mode: "0755"}
	sum = &Summary{}
	got, err = pickExport(onBuilder, seeded, []cacheinfo.Cache{pip, npmU, missing}, nil, "b", sum)
	if err != nil || len(got) != 2 || got[0].Sharing != "shared" || !got[1].Seed || len(sum.Skipped) != 1 || sum.Skipped[0].Cache.ID != missing.ID {
		t.Errorf("metadata: %+v %v %+v", got, err, sum.Skipped)
	}
	for _, tc := range []struct {
		wanted []cacheinfo.Cache
		ids    []string
		err    string
	}{
		{nil, []string{"//nope"}, "unknown cache id //nope: b has no cache mount with that id"},
		{nil, []string{npmU.ID}, "is a non-root step's cache"},
		{[]cacheinfo.Cache{pip}, []string{apt.ID}, "not among the caches of --metadata-file/--dockerfile (//root/.cache/pip)"},
		{[]cacheinfo.Cache{missing}, []string{missing.ID}, "the builds name it, but b does not have it"},
	} {
		if _, err := pickExport(onBuilder, seeded, tc.wanted, tc.ids, "b", &Summary{}); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v %v: error %v, want %q", tc.wanted, tc.ids, err, tc.err)
		}
	}
	got, err = pickExport(onBuilder, seeded, nil, []string{pip.ID}, "b", &Summary{})
	if err != nil || len(got) != 1 || got[0].ID != pip.ID {
		t.Errorf("--id: %v %v", got, err)
	}
}

func withSharing(c cacheinfo.Cache, s string) cacheinfo.Cache { c.Sharing = s; return c }

func TestPickImport(t *testing.T) {
	idx := Index{Caches: []Entry{{Cache: pip}, {Cache: apt}, {Cache: npmU}}}
	sum := &Summary{}
	got, err := pickImport(idx, "dir", []cacheinfo.Cache{pip, withSeed(pip)}, nil, sum)
	if err != nil || len(got) != 1 || got[0].Key() != pip.Key() || len(sum.Skipped) != 1 {
		t.Errorf("metadata: %v %v %+v", got, err, sum.Skipped)
	}
	got, err = pickImport(idx, "dir", nil, []string{npmU.ID, apt.ID}, &Summary{})
	if err != nil || len(got) != 2 {
		t.Errorf("ids: %v %v", got, err)
	}
	if _, err := pickImport(idx, "dir", nil, []string{"//nope"}, &Summary{}); err == nil ||
		!strings.Contains(err.Error(), "unknown cache id //nope: dir has no such cache (it has: //root/.cache/pip, /linux/amd64//var/cache/apt, //home/node/.npm)") {
		t.Errorf("unknown id: %v", err)
	}
}

func withSeed(c cacheinfo.Cache) cacheinfo.Cache { c.Seed, c.UID, c.GID = true, 1000, 1000; return c }

func TestBound(t *testing.T) {
	caches := []sized{{pip, 100}, {apt, 5000}, {npmU, 200}}
	sum := &Summary{}
	got := bound(caches, 1000, sum, "on the builder")
	if len(got) != 2 || got[0].ID != pip.ID || got[1].ID != npmU.ID {
		t.Errorf("bound: %v", got)
	}
	if len(sum.Skipped) != 1 || sum.Skipped[0].Cache.ID != apt.ID || !strings.Contains(sum.Skipped[0].Reason, "over --max-size 1000B") {
		t.Errorf("skipped %+v", sum.Skipped)
	}
	if got := bound(caches, 0, &Summary{}, ""); len(got) != 3 {
		t.Errorf("no bound: %v", got)
	}
	if n, err := ParseSize("2GB"); err != nil || n != 2<<30 {
		t.Errorf("ParseSize: %d %v", n, err)
	}
	for _, s := range []string{"", "lots", "-1"} {
		if _, err := ParseSize(s); err == nil {
			t.Errorf("ParseSize(%q) accepted", s)
		}
	}
}

func TestWrapSaysTheBuilderWentAway(t *testing.T) {
	b := &Builder{addr: "unix:///run/b.sock"}
	err := b.wrap(status.Error(codes.Unavailable, "error reading from server: EOF"), "importing cache //root/.cache/pip")
	if !errors.Is(err, ErrBuilderGone) || !strings.Contains(err.Error(), "importing cache //root/.cache/pip: the builder went away or cannot be reached (unix:///run/b.sock)") {
		t.Errorf("%v", err)
	}
	err = b.wrap(errors.New("process did not complete successfully"), "exporting cache x")
	if errors.Is(err, ErrBuilderGone) || err.Error() != "exporting cache x: process did not complete successfully" {
		t.Errorf("%v", err)
	}
}

func TestSummaryPrint(t *testing.T) {
	s := &Summary{Where: "ci-caches", Duration: 1500 * time.Millisecond,
		Moved:   []Moved{{Cache: pip, Stats: cachearchive.Stats{Files: 48, Bytes: 5 << 20, Size: 4 << 20}, Added: 47, Duration: time.Second}},
		Skipped: []Skipped{{Cache: apt, Reason: "over --max-size"}}}
	var buf bytes.Buffer
	s.Print(&buf)
	out := buf.String()
	for _, want := range []string{"//root/.cache/pip", "48", "47", "5MiB", "4MiB", "skipped /linux/amd64//var/cache/apt: over --max-size", "imported 1 caches from ci-caches: 48 files, 5MiB (archives 4MiB) in 1.5s"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

// The helper's error line is what a failed copy reports.
func TestHelperErrorFromLogs(t *testing.T) {
	l := &logTail{}
	l.add([]byte("#5 0.1 unpacking\n#5 0.2 " + cachearchive.ErrorPrefix + "corrupt or truncated archive: unexpected EOF\n"))
	if got := l.helperError(); got != "corrupt or truncated archive: unexpected EOF" {
		t.Errorf("helperError %q", got)
	}
	if got := (&logTail{}).helperError(); got != "" {
		t.Errorf("no error: %q", got)
	}
}
