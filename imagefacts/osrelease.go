package imagefacts

import (
	"strconv"
	"strings"
)

// OSRelease is what os-release(5) of the image a step's lineage starts from
// says: the FROM image's /etc/os-release, not what earlier steps made of it.
// The zero value is "unknown" (no image, scratch, unreadable, `autocache
// plan`), and an unknown release never enables anything.
type OSRelease struct {
	ID        string   // ID: "rhel", "fedora", "ol", … (lower case)
	IDLike    []string // ID_LIKE, in order: "rhel", "centos", "fedora", …
	VersionID string   // VERSION_ID: "8.10", "39", "2023"; "" if absent
}

// Known reports whether the release says which distribution it is.
func (r OSRelease) Known() bool { return r.ID != "" }

// String is "ID VERSION_ID" ("rhel 8.10"), for notes.
func (r OSRelease) String() string {
	if !r.Known() {
		return "unknown"
	}
	if r.VersionID == "" {
		return r.ID + " (no VERSION_ID)"
	}
	return r.ID + " " + r.VersionID
}

// ParseOSRelease reads an os-release file: KEY=value lines, values
// optionally in double or single quotes with shell-style backslash escapes
// in double quotes; comments and blank lines are skipped. Only ID, ID_LIKE
// and VERSION_ID are kept. Anything unreadable is left out.
func ParseOSRelease(b []byte) OSRelease {
	var r OSRelease
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v, ok = osReleaseValue(v)
		if !ok {
			continue
		}
		switch k {
		case "ID":
			r.ID = strings.ToLower(v)
		case "ID_LIKE":
			r.IDLike = strings.Fields(strings.ToLower(v))
		case "VERSION_ID":
			r.VersionID = v
		}
	}
	return r
}

func osReleaseValue(v string) (string, bool) {
	if len(v) < 2 {
		return v, !strings.ContainsAny(v, `"'\`)
	}
	switch q := v[0]; {
	case q == '\'' && v[len(v)-1] == '\'':
		return v[1 : len(v)-1], true
	case q == '"' && v[len(v)-1] == '"':
		var sb strings.Builder
		in := v[1 : len(v)-1]
		for i := 0; i < len(in); i++ {
			if in[i] == '\\' && i+1 < len(in) && strings.IndexByte("\"\\`$", in[i+1]) >= 0 {
				i++
			}
			sb.WriteByte(in[i])
		}
		return sb.String(), true
	}
	return v, !strings.ContainsAny(v, `"'\`)
}

// VersionAtLeast reports whether VERSION_ID is known to be at least min, a
// dotted numeric version: every component of min must be matched by a
// number in VERSION_ID, so "8" is not known to be at least "8.5" (CentOS
// 8's VERSION_ID has no minor). Anything not numeric is not known.
func (r OSRelease) VersionAtLeast(min string) bool {
	return versionAtLeast(r.VersionID, min)
}

func versionAtLeast(v, min string) bool {
	vs, ms := strings.Split(v, "."), strings.Split(min, ".")
	for i, m := range ms {
		if i >= len(vs) {
			return false
		}
		a, err1 := strconv.Atoi(vs[i])
		b, err2 := strconv.Atoi(m)
		if err1 != nil || err2 != nil || a < 0 {
			return false
		}
		if a != b {
			return a > b
		}
	}
	return true
}
