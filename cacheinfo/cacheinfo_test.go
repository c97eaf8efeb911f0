package cacheinfo

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/autocache/autocache/llbtransform"
)

func TestFromStepsDeduplicates(t *testing.T) {
	steps := []llbtransform.Step{
		{Mounts: []llbtransform.Mount{
			{Type: "cache", Target: "/root/.cache/pip", ID: "//root/.cache/pip", Sharing: "shared", Manager: "pip", Mode: 0o755},
			{Type: "bind", Target: "/etc/pip.conf", Readonly: true, Manager: "pip"},
		}},
		{Mounts: []llbtransform.Mount{
			// The same cache followed by a later step, and used by another manager.
			{Type: "cache", Target: "/root/.cache/pip", ID: "//root/.cache/pip", Sharing: "shared", Manager: "pipenv", Mode: 0o755, Follows: "line 3"},
			{Type: "cache", Target: "/var/cache/apt", ID: "/linux/amd64//var/cache/apt", Sharing: "locked", Manager: "apt", Mode: 0o755},
		}},
		{Mounts: []llbtransform.Mount{
			// A non-root step: the same id with a seed is another cache.
			{Type: "cache", Target: "/root/.cache/pip", ID: "//root/.cache/pip", Sharing: "shared", UID: 1000, GID: 1000, Seed: true, Mode: 0o755, Manager: "pip"},
		}},
	}
	got := FromSteps(steps)
	want := []Cache{
		{ID: "//root/.cache/pip", Target: "/root/.cache/pip", Sharing: "shared", Mode: "0755", Managers: []string{"pip", "pipenv"}},
		{ID: "//root/.cache/pip", Target: "/root/.cache/pip", Sharing: "shared", UID: 1000, GID: 1000, Mode: "0755", Seed: true, Managers: []string{"pip"}},
		{ID: "/linux/amd64//var/cache/apt", Target: "/var/cache/apt", Sharing: "locked", Mode: "0755", Managers: []string{"apt"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FromSteps:\n got %+v\nwant %+v", got, want)
	}
	for _, c := range got {
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
	}
}

func TestDirNameIsStableSafeAndUnique(t *testing.T) {
	safe := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$`)
	ids := []string{
		"//root/.cache/pip",
		"/linux/amd64//var/cache/apt",
		"/from:docker.io/library/python:3.11-slim//root/.cache/pip/wheels",
		"proj/@team-a/linux/arm64//var/cache/apt",
		"/" + strings.Repeat("x/", 200) + "y",
		"..//../etc",
		"/ü n/i*c?o\\d\"e",
	}
	seen := map[string]string{}
	for _, id := range ids {
		for _, c := range []Cache{{ID: id, Mode: "0755"}, {ID: id, Seed: true, UID: 1000, GID: 1000, Mode: "0755"}} {
			n := c.DirName()
			if !safe.MatchString(n) {
				t.Errorf("%q: DirName %q is not filesystem-safe", id, n)
			}
			if n != c.DirName() {
				t.Errorf("%q: DirName not stable", id)
			}
			if prev, ok := seen[n]; ok {
				t.Errorf("%q and %q share DirName %q", prev, c.Key(), n)
			}
			seen[n] = c.Key()
		}
	}
	if n := (Cache{ID: "//root/.cache/pip", Mode: "0755"}).DirName(); !strings.HasPrefix(n, "root-.cache-pip-") {
		t.Errorf("DirName %q", n)
	}
}

func TestCacheMap(t *testing.T) {
	caches := []Cache{
		{ID: "//root/.cache/pip", Target: "/root/.cache/pip", Sharing: "shared", Mode: "0755", Managers: []string{"pip"}},
		{ID: "//home/node/.npm", Target: "/home/node/.npm", Sharing: "shared", UID: 1000, GID: 1000, Seed: true, Mode: "0755", Managers: []string{"npm"}},
	}
	b, err := json.Marshal(CacheMap(caches, ""))
	if err != nil {
		t.Fatal(err)
	}
	// The ids as a Dockerfile's id= (the frontend adds the namespace and "/").
	want := `{"home-node-.npm-` + caches[1].DirName()[len("home-node-.npm-"):] + `":{"target":"/home/node/.npm","id":"/home/node/.npm","sharing":"shared","uid":1000,"gid":1000},` +
		`"` + caches[0].DirName() + `":{"target":"/root/.cache/pip","id":"/root/.cache/pip","sharing":"shared"}}`
	if string(b) != want {
		t.Fatalf("cache map\n got %s\nwant %s", b, want)
	}
	ns := []Cache{{ID: "proj/linux/amd64//var/cache/apt", Target: "/var/cache/apt", Sharing: "locked", Mode: "0755"}}
	if m := CacheMap(ns, "proj"); len(m) != 1 || m[ns[0].DirName()].ID != "linux/amd64//var/cache/apt" {
		t.Errorf("with a namespace: %+v", m)
	}
}

func TestParseMetadata(t *testing.T) {
	c := Cache{ID: "//root/.npm", Target: "/root/.npm", Sharing: "shared", Mode: "0755", Managers: []string{"npm"}}
	rep, err := Encode("reg/autocache:1", []Cache{c})
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(rep)
	c2 := Cache{ID: "//root/.cache/pip", Target: "/root/.cache/pip", Sharing: "shared", Mode: "0755", Managers: []string{"pip"}}
	rep2, _ := Encode("", []Cache{c2})
	for name, tc := range map[string]struct {
		file string
		want []Cache
		err  string
	}{
		"buildctl, inline JSON": {file: `{"frontend.autocache.steps":"MQ==","` + MetaKey + `":` + string(rep) + `}`, want: []Cache{c}},
		"base64":                {file: `{"` + MetaKey + `":"` + b64 + `"}`, want: []Cache{c}},
		"bake, two targets":     {file: `{"a":{"` + MetaKey + `":` + string(rep) + `},"b":{"` + MetaKey + `":` + string(rep2) + `},"c":{"x":1}}`, want: []Cache{c2, c}},
		"no key":                {file: `{"containerimage.digest":"sha256:00"}`, err: "no frontend.autocache.caches in it"},
		"not JSON":              {file: `caches`, err: "not a JSON object"},
		"bad version":           {file: `{"` + MetaKey + `":{"version":7,"caches":[]}}`, err: "format version 7"},
		"bad entry":             {file: `{"` + MetaKey + `":{"version":1,"caches":[{"id":"x","target":"rel","sharing":"shared"}]}}`, err: `target "rel"`},
		"bad sharing":           {file: `{"` + MetaKey + `":{"version":1,"caches":[{"id":"x","target":"/x","sharing":"open"}]}}`, err: `sharing "open"`},
	} {
		got, err := ParseMetadata([]byte(tc.file))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got.Caches, tc.want) {
			t.Errorf("%s: got %+v, want %+v", name, got.Caches, tc.want)
		}
		if name == "buildctl, inline JSON" && got.Image != "reg/autocache:1" {
			t.Errorf("image %q", got.Image)
		}
	}
}

func TestModes(t *testing.T) {
	for _, m := range []string{"0755", "0700", "1777", "2775"} {
		fm, err := Cache{ID: "x", Mode: m}.FileMode()
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatMode(fm); got != m {
			t.Errorf("mode %s round-trips to %s", m, got)
		}
	}
	for _, m := range []string{"0x1", "9", "17777", "rwx"} {
		if _, err := (Cache{ID: "x", Mode: m}).FileMode(); err == nil {
			t.Errorf("mode %q accepted", m)
		}
	}
}

func TestTargetOf(t *testing.T) {
	for _, tc := range []struct {
		id, target string
	}{
		{"//root/.cache/pip", "/root/.cache/pip"},
		{"ns/@s/linux/amd64//var/cache/apt", "/var/cache/apt"},
		{"/from:docker.io/library/python:3.11-slim//root/.cache/pip/wheels", "/root/.cache/pip/wheels"},
		{"/root/.cache/pip", ""},
		{"mycache", ""},
		{"ns//", ""},
		{"ns//a/../b", ""},
	} {
		got, ok := TargetOf(tc.id)
		if got != tc.target || ok != (tc.target != "") {
			t.Errorf("TargetOf(%q) = %q, %v", tc.id, got, ok)
		}
	}
}
