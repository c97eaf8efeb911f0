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

// dirSetting resolves a variable that names a directory (PIP_CACHE_DIR,
// GOCACHE, …). It returns the clean absolute path, or ok=false and a reason.
// Unset and empty values come back as "", true: the caller falls back.
// tildeHome, if non-empty, expands a leading "~" (pip and npm do that).
func dirSetting(env vars, name, tildeHome string) (dir string, ok bool, why string) {
	v, set, known := env.get(name)
	if !set || (known && v == "") {
		return "", true, ""
	}
	if !known {
		return "", false, name + " is not a literal"
	}
	return absDir(name+"="+v, v, tildeHome)
}

// absDir checks a configured directory: absolute (after ~), cleaned.
func absDir(what, v, tildeHome string) (string, bool, string) {
	if tildeHome != "" && (v == "~" || strings.HasPrefix(v, "~/")) {
		v = tildeHome + v[1:]
	}
	if !path.IsAbs(v) {
		return "", false, what + " is not an absolute path"
	}
	return path.Clean(v), true, ""
}

// userDir resolves a per-user directory the XDG way: $xdgVar/sub when the
// variable is set, else ~/homeSub.
func userDir(env vars, u user, xdgVar, sub, homeSub string) (string, bool, string) {
	if d, ok, why := dirSetting(env, xdgVar, ""); !ok || d != "" {
		if !ok {
			return "", false, why
		}
		return path.Join(d, sub), true, ""
	}
	return inHome(home, env, u, homeSub)
}

// inHome is rel under the home that homeOf (home, or javaHome for JVM
// tools) gives u.
func inHome(homeOf func(vars, user) (string, bool, string), env vars, u user, rel string) (string, bool, string) {
	h, ok, why := homeOf(env, u)
	if !ok {
		return "", false, why
	}
	return path.Join(h, rel), true, ""
}

// javaHome is the user.home a JVM sees: Java reads it from the passwd
// entry, not from $HOME, so /root for root whatever HOME says. For other
// users HOME is what we have (llbtransform passes the passwd home as HOME
// when the image's env has none); an image HOME that differs from the
// passwd entry would only give a mount the JVM doesn't use.
func javaHome(env vars, u user) (string, bool, string) {
	switch u.kind {
	case rootUser:
		return "/root", true, ""
	case namedUser:
		return "", false, "user " + u.spec + " not resolved yet"
	}
	if h, ok, _ := home(env, u); ok {
		return h, true, ""
	}
	return "", false, "Java's user.home of user " + u.spec + " unknown"
}

// truthy reads a boolean setting the way most tools do.
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on", "y", "t":
		return true
	}
	return false
}
