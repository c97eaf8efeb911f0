package cacheinfo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
)

// MetaKey is the result-metadata key under which the frontend reports the
// caches a build used (buildctl and docker buildx --metadata-file print it).
const MetaKey = "frontend.autocache.caches"

// Version is the version of Report's format.
const Version = 1

// Report is the value of MetaKey: a JSON object, so that buildctl and
// buildx write it into metadata files as JSON rather than base64.
type Report struct {
	Version int `json:"version"`
	// Image is the autocache image the build ran, as the build named it
	// (the # syntax= line or BUILDKIT_SYNTAX), if the frontend was told;
	// `autocache cache` runs its copies in it unless told otherwise.
	Image  string  `json:"image,omitempty"`
	Caches []Cache `json:"caches"`
}

// Encode marshals a report of caches (nil becomes an empty list).
func Encode(image string, caches []Cache) ([]byte, error) {
	if caches == nil {
		caches = []Cache{}
	}
	return json.Marshal(Report{Version: Version, Image: image, Caches: caches})
}

// ParseMetadata reads the caches out of a metadata file written by
// `buildctl build --metadata-file`, `docker buildx build --metadata-file`
// or `docker buildx bake --metadata-file` (one object per target), where
// the report is JSON or, from tools that don't decode it, base64 of the
// JSON. A file without the key is an error that says so.
func ParseMetadata(b []byte) (Report, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return Report{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if raw, ok := top[MetaKey]; ok {
		return parseValue(raw)
	}
	// bake: {"target": {…metadata…}, …}
	var out Report
	found := false
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var inner map[string]json.RawMessage
		if json.Unmarshal(top[k], &inner) != nil {
			continue
		}
		raw, ok := inner[MetaKey]
		if !ok {
			continue
		}
		r, err := parseValue(raw)
		if err != nil {
			return Report{}, fmt.Errorf("%s: %w", k, err)
		}
		found = true
		if out.Image == "" {
			out.Image = r.Image
		}
		out.Caches = append(out.Caches, r.Caches...)
	}
	if !found {
		return Report{}, fmt.Errorf("no %s in it: was the build made with the autocache frontend (version with cache reports)?", MetaKey)
	}
	out.Version = Version
	out.Caches = Merge(out.Caches)
	return out, nil
}

func parseValue(raw json.RawMessage) (Report, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Report{}, fmt.Errorf("%s: %w", MetaKey, err)
		}
		dt, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			dt = []byte(s)
		}
		raw = dt
	}
	var r Report
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&r); err != nil {
		return Report{}, fmt.Errorf("%s: %w", MetaKey, err)
	}
	if r.Version != Version {
		return Report{}, fmt.Errorf("%s: format version %d, this autocache reads %d", MetaKey, r.Version, Version)
	}
	for _, c := range r.Caches {
		if err := c.Validate(); err != nil {
			return Report{}, fmt.Errorf("%s: %w", MetaKey, err)
		}
	}
	r.Caches = Merge(r.Caches)
	return r, nil
}

// CacheMapEntry is one value of a buildkit-cache-dance v3 cache-map: the
// cache tool passes each key as an option of --mount=type=cache in a
// Dockerfile, so it holds only mount options. The Dockerfile frontend
// prefixes an id= with BUILDKIT_CACHE_MOUNT_NS and "/", so ID is the cache
// id without that prefix. uid and gid are there only for a seeded cache: a
// Dockerfile mount with uid= or gid= gets a seed, so uid=0,gid=0 would
// name another cache than autocache's root caches.
type CacheMapEntry struct {
	Target  string `json:"target"`
	ID      string `json:"id"`
	Sharing string `json:"sharing"`
	UID     *int   `json:"uid,omitempty"`
	GID     *int   `json:"gid,omitempty"`
	Mode    string `json:"mode,omitempty"` // only when not the default 0755
}

// CacheMap is the buildkit-cache-dance v3 cache-map of caches whose ids
// start with the namespace ns (BUILDKIT_CACHE_MOUNT_NS): one entry per
// cache, keyed by its DirName (the directory the tool keeps it in). The
// tool's own builds set no namespace, so they reach these caches only
// when ns is "".
func CacheMap(caches []Cache, ns string) map[string]CacheMapEntry {
	out := map[string]CacheMapEntry{}
	for _, c := range Merge(caches) {
		id, ok := strings.CutPrefix(c.ID, ns+"/")
		if !ok {
			continue
		}
		e := CacheMapEntry{Target: c.Target, ID: id, Sharing: c.Sharing}
		if c.Seed {
			uid, gid := c.UID, c.GID
			e.UID, e.GID = &uid, &gid
			if c.Mode != DefaultMode {
				e.Mode = c.Mode
			}
		}
		out[c.DirName()] = e
	}
	return out
}

// Find returns the caches whose ID is id (one per seed), sorted.
func Find(caches []Cache, id string) []Cache {
	var out []Cache
	for _, c := range caches {
		if c.ID == id {
			out = append(out, c)
		}
	}
	return out
}

// IDs lists the distinct ids of caches, sorted.
func IDs(caches []Cache) []string {
	var out []string
	for _, c := range caches {
		if !slices.Contains(out, c.ID) {
			out = append(out, c.ID)
		}
	}
	sort.Strings(out)
	return out
}

// TargetOf reads the target out of an id of autocache's shape,
// <namespace>/[qualifiers/]<target> (docs/cache-ids.md): the qualifiers
// contain no "//", so the first "//" is where the target starts. A
// hand-written cache mount without id= has the same shape, and shares the
// cache. ok is false for other ids.
func TargetOf(id string) (target string, ok bool) {
	i := strings.Index(id, "//")
	if i < 0 {
		return "", false
	}
	target = id[i+1:]
	if path.Clean(target) != target || target == "/" {
		return "", false
	}
	return target, true
}
