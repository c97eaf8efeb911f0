package pkgmgr

import (
	"maps"
	"path"
	"strconv"
	"strings"
)

// value is what we know about one variable at one point of a script.
type value struct {
	val      string
	known    bool        // val is exact; false for $(…), ${x:-y}, loop variables, …
	exported bool        // part of the environment of commands
	site     *assignSite // where it was set in the script; nil for Step.Env
}

// vars is a shell's variables. Copied (not shared) into subshells.
type vars map[string]value

func envVars(env []string) vars {
	v := vars{}
	for _, kv := range env {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		v[k] = value{val: val, known: true, exported: true} // later entries win
	}
	return v
}

// exported is the environment a command gets from this shell.
func (v vars) exported() vars {
	e := vars{}
	for k, x := range v {
		if x.exported {
			e[k] = x
		}
	}
	return e
}

func (v vars) clone() vars { return maps.Clone(v) }

// get returns a set, literal, non-empty value. set reports whether the name
// is present at all; known whether its value could be worked out.
func (v vars) get(name string) (val string, set, known bool) {
	x, ok := v[name]
	if !ok {
		return "", false, true
	}
	return x.val, true, x.known
}

// userKind sorts the users a step can run as.
type userKind int

const (
	rootUser    userKind = iota
	numericUser          // uid[:gid], not 0: home directory unknown
	namedUser            // a name we can't resolve (yet)
)

type user struct {
	kind     userKind
	uid, gid int
	spec     string // as written, for notes
}

var root = user{kind: rootUser}

// parseUser reads Step.User / sudo -u / gosu specs: "", "root", "0", "0:0",
// "1000", "1000:1000", "node", "app:staff".
func parseUser(spec string) user {
	if spec == "" {
		return root
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	if name == "root" || name == "0" {
		return user{kind: rootUser, spec: spec}
	}
	uid, err := strconv.Atoi(name)
	if err != nil || uid < 0 {
		return user{kind: namedUser, spec: spec}
	}
	gid := 0
	if hasGroup {
		if gid, err = strconv.Atoi(group); err != nil || gid < 0 {
			return user{kind: namedUser, spec: spec}
		}
	}
	return user{kind: numericUser, uid: uid, gid: gid, spec: spec}
}

func (u user) String() string {
	if u.kind == rootUser {
		return "root"
	}
	return u.spec
}

// home resolves the home directory a program sees: $HOME if the environment
// has it, else the passwd entry, which we only know for root (runc sets HOME
// from /etc/passwd when it is missing). ok=false means unknown; why says why.
func home(env vars, u user) (dir string, ok bool, why string) {
	if h, set, known := env.get("HOME"); set {
		switch {
		case !known:
			return "", false, "HOME is not a literal"
		case !path.IsAbs(h):
			return "", false, "HOME=" + h + " is not absolute"
		}
		return path.Clean(h), true, ""
	}
	switch u.kind {
	case rootUser:
		return "/root", true, ""
	case numericUser:
		return "", false, "home of user " + u.spec + " unknown"
	}
	return "", false, "user " + u.spec + " not resolved yet"
}

// owner is the uid/gid a new cache directory gets for a command run as u.
func (u user) owner() (int, int) {
	if u.kind == rootUser {
		return 0, 0
	}
	return u.uid, u.gid
}
