package shell

import (
	"maps"
	"path"
	"strconv"
	"strings"
)

// Value is what we know about one variable at one point of a script.
type Value struct {
	Val      string
	Known    bool        // val is exact; false for $(…), ${x:-y}, loop variables, …
	Exported bool        // part of the environment of commands
	Site     *AssignSite // where it was set in the script; nil for the step's env
}

// Vars is a shell's variables. Copied (not shared) into subshells.
type Vars map[string]Value

func EnvVars(env []string) Vars {
	v := Vars{}
	for _, kv := range env {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		v[k] = Value{Val: val, Known: true, Exported: true} // later entries win
	}
	return v
}

// Exported is the environment a command gets from this shell.
func (v Vars) Exported() Vars {
	e := Vars{}
	for k, x := range v {
		if x.Exported {
			e[k] = x
		}
	}
	return e
}

func (v Vars) Clone() Vars { return maps.Clone(v) }

// Get returns a set, literal, non-empty value. set reports whether the name
// is present at all; known whether its value could be worked out.
func (v Vars) Get(name string) (val string, set, known bool) {
	x, ok := v[name]
	if !ok {
		return "", false, true
	}
	return x.Val, true, x.Known
}

// UserKind sorts the users a step can run as.
type UserKind int

const (
	RootUser    UserKind = iota
	NumericUser          // uid[:gid], not 0: home directory unknown
	NamedUser            // a name we can't resolve (yet)
)

type User struct {
	Kind     UserKind
	UID, GID int
	Spec     string // as written, for notes
}

var root = User{Kind: RootUser}

// ParseUser reads a step's USER and sudo -u / gosu specs: "", "root", "0", "0:0",
// "1000", "1000:1000", "node", "app:staff".
func ParseUser(spec string) User {
	if spec == "" {
		return root
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	if name == "root" || name == "0" {
		return User{Kind: RootUser, Spec: spec}
	}
	uid, err := strconv.Atoi(name)
	if err != nil || uid < 0 {
		return User{Kind: NamedUser, Spec: spec}
	}
	gid := 0
	if hasGroup {
		if gid, err = strconv.Atoi(group); err != nil || gid < 0 {
			return User{Kind: NamedUser, Spec: spec}
		}
	}
	return User{Kind: NumericUser, UID: uid, GID: gid, Spec: spec}
}

func (u User) String() string {
	if u.Kind == RootUser {
		return "root"
	}
	return u.Spec
}

// Home resolves the home directory a program sees: $HOME if the environment
// has it, else the passwd entry, which we only know for root (runc sets HOME
// from /etc/passwd when it is missing). ok=false means unknown; why says why.
func Home(env Vars, u User) (dir string, ok bool, why string) {
	if h, set, known := env.Get("HOME"); set {
		switch {
		case !known:
			return "", false, "HOME is not a literal"
		case !path.IsAbs(h):
			return "", false, "HOME=" + h + " is not absolute"
		}
		return path.Clean(h), true, ""
	}
	switch u.Kind {
	case RootUser:
		return "/root", true, ""
	case NumericUser:
		return "", false, "home of user " + u.Spec + " unknown"
	}
	return "", false, "user " + u.Spec + " not resolved yet"
}

// Owner is the uid and gid of what a command run as u creates.
func (u User) Owner() (int, int) {
	if u.Kind == RootUser {
		return 0, 0
	}
	return u.UID, u.GID
}
