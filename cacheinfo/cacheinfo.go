// Package cacheinfo describes the cache mounts autocache adds, in the one
// form that three places share: the build's result metadata
// (frontend.autocache.caches), `autocache plan --format cachemap` (a
// buildkit-cache-dance cache-map) and `autocache cache export|import`. An
// entry holds everything it takes to mount the very same cache again:
// BuildKit keeps one cache per id and seed directory, so a non-root
// step's cache (which starts from a directory owned by that user) is a
// different cache from the same id without one.
package cacheinfo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/autocache/autocache/llbtransform"
)

// Cache is one cache mount, deduplicated over the steps that use it.
type Cache struct {
	ID      string `json:"id"`      // BuildKit cache id
	Target  string `json:"target"`  // where the steps mount it
	Sharing string `json:"sharing"` // shared, private or locked
	UID     int    `json:"uid"`     // owner of the cache directory
	GID     int    `json:"gid"`
	Mode    string `json:"mode"` // mode of the cache directory, octal ("0755")
	// Seed: the cache starts from a directory owned by UID:GID with Mode,
	// as autocache's caches of non-root steps (and a hand-written
	// --mount=type=cache,uid=…) do; BuildKit keys such a cache apart from
	// the same id without one.
	Seed     bool     `json:"seed"`
	Managers []string `json:"managers"` // the package managers whose steps use it
}

// Sharing modes.
const (
	Shared  = "shared"
	Private = "private"
	Locked  = "locked"
)

// DefaultMode is the mode of a cache directory without a seed.
const DefaultMode = "0755"

// FromSteps lists the cache mounts a transform added, deduplicated and
// sorted (Merge).
func FromSteps(steps []llbtransform.Step) []Cache {
	var out []Cache
	for _, s := range steps {
		for _, m := range s.Mounts {
			if m.Type != "cache" {
				continue
			}
			mode := m.Mode
			if mode == 0 {
				mode = llbtransform.SeedMode
			}
			c := Cache{ID: m.ID, Target: m.Target, Sharing: m.Sharing, UID: m.UID, GID: m.GID,
				Mode: FormatMode(mode), Seed: m.Seed}
			if m.Manager != "" {
				c.Managers = []string{m.Manager}
			}
			out = append(out, c)
		}
	}
	return Merge(out)
}

// FormatMode writes a cache directory's mode the way a Dockerfile's
// --mount=type=cache,mode=… does: octal with a leading zero.
func FormatMode(m os.FileMode) string {
	v := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		v |= 0o1000
	}
	return fmt.Sprintf("%04o", v)
}

// FileMode parses Mode ("" is DefaultMode).
func (c Cache) FileMode() (os.FileMode, error) {
	s := c.Mode
	if s == "" {
		s = DefaultMode
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o7777 {
		return 0, fmt.Errorf("cache %s: mode %q is not an octal file mode", c.ID, c.Mode)
	}
	m := os.FileMode(v & 0o777)
	if v&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if v&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if v&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m, nil
}

// Key identifies the BuildKit cache: its id and, for a seeded cache, the
// seed's owner and mode.
func (c Cache) Key() string {
	if !c.Seed {
		return c.ID
	}
	mode := c.Mode
	if mode == "" {
		mode = DefaultMode
	}
	return fmt.Sprintf("%s\x00seed=%d:%d:%s", c.ID, c.UID, c.GID, mode)
}

// String names the cache for messages: its id, and the seed's owner when
// it has one.
func (c Cache) String() string {
	if c.Seed {
		return fmt.Sprintf("%s (uid %d, gid %d)", c.ID, c.UID, c.GID)
	}
	return c.ID
}

// Validate checks that c can be mounted.
func (c Cache) Validate() error {
	switch {
	case c.ID == "":
		return fmt.Errorf("cache with target %q has no id", c.Target)
	case strings.ContainsRune(c.ID, 0):
		return fmt.Errorf("cache id %q contains a NUL byte", c.ID)
	case !path.IsAbs(c.Target) || path.Clean(c.Target) != c.Target || c.Target == "/":
		return fmt.Errorf("cache %s: target %q is not an absolute, clean path below /", c.ID, c.Target)
	case c.UID < 0 || c.GID < 0:
		return fmt.Errorf("cache %s: negative uid or gid", c.ID)
	case !c.Seed && (c.UID != 0 || c.GID != 0):
		return fmt.Errorf("cache %s: uid %d, gid %d without a seed (a cache without one is root's)", c.ID, c.UID, c.GID)
	}
	switch c.Sharing {
	case Shared, Private, Locked:
	default:
		return fmt.Errorf("cache %s: sharing %q is not shared, private or locked", c.ID, c.Sharing)
	}
	_, err := c.FileMode()
	return err
}

// Merge deduplicates caches by Key, joining their managers, and sorts them
// by id, then owner. Of two entries with one key, the first one's target
// and sharing win (autocache gives an id one target and one sharing mode).
func Merge(caches []Cache) []Cache {
	var out []Cache
	index := map[string]int{}
	for _, c := range caches {
		if c.Mode == "" {
			c.Mode = DefaultMode
		}
		k := c.Key()
		i, ok := index[k]
		if !ok {
			index[k] = len(out)
			c.Managers = slices.Clone(c.Managers)
			out = append(out, c)
			continue
		}
		for _, m := range c.Managers {
			if !slices.Contains(out[i].Managers, m) {
				out[i].Managers = append(out[i].Managers, m)
			}
		}
	}
	for i := range out {
		if out[i].Managers == nil {
			out[i].Managers = []string{}
		}
		slices.Sort(out[i].Managers)
	}
	slices.SortStableFunc(out, func(a, b Cache) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

// DirName is a directory (or file) name for the cache: stable (the same
// cache always gets the same name), filesystem-safe (letters, digits, '.',
// '_' and '-', never starting with '.' or '-', at most 100 bytes) and
// unique (a hash of Key ends it). E.g. "root-.cache-pip-3a1f09c2" for
// "//root/.cache/pip".
func (c Cache) DirName() string {
	var b strings.Builder
	for _, r := range strings.TrimLeft(c.ID, "/") {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		case r == '/':
			b.WriteByte('-')
		default:
			b.WriteByte('_')
		}
	}
	slug := strings.TrimLeft(b.String(), ".-")
	if len(slug) > 90 {
		slug = slug[:90]
	}
	if slug == "" {
		slug = "cache"
	}
	sum := sha256.Sum256([]byte(c.Key()))
	return slug + "-" + hex.EncodeToString(sum[:4])
}
