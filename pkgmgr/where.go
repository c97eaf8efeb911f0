package pkgmgr

import (
	"path"
	"strings"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// Where a manager keeps its cache: the first of several places that says
// so (a flag, a variable, the user's home), each resolved to a clean
// absolute path, or a reason why it can't be.

// place is one place a directory may be set; found=false: not set there.
type place func(c call) (dir string, found, ok bool, why string)

// firstOf is the directory of the first place that sets it.
func firstOf(places ...place) func(c call) (string, bool, string) {
	return func(c call) (string, bool, string) {
		for _, p := range places {
			if dir, found, ok, why := p(c); found {
				return dir, ok, why
			}
		}
		return "", false, "no place for the cache"
	}
}

// flagDir is an option of the program (`--cache-dir D`, `-g D`); a
// relative D is taken from the working directory when rel is set.
func flagDir(long, short string, rel bool) place {
	return func(c call) (string, bool, bool, string) {
		d, found, known := shell.FindFlag(c.Argv, c.from, long, short, false)
		if !found {
			return "", false, false, ""
		}
		if !known {
			return "", true, false, long + " is not a literal"
		}
		if rel && !path.IsAbs(d) && c.Cwd != "" {
			d = path.Join(c.Cwd, d)
		}
		d, ok, why := absDir(long+" "+d, d, "")
		return d, true, ok, why
	}
}

// envDir is $name/sub when the variable is set and not empty.
func envDir(name, sub string) place {
	return func(c call) (string, bool, bool, string) {
		d, ok, why := dirSetting(c.Env, name, "")
		if ok && d == "" {
			return "", false, false, ""
		}
		return path.Join(d, sub), true, ok, why
	}
}

// xdgDir is $xdgVar/sub when that is set, else ~/homeSub (userDir).
func xdgDir(xdgVar, sub, homeSub string) place {
	return func(c call) (string, bool, bool, string) {
		d, ok, why := userDir(c.Env, c.User, xdgVar, sub, homeSub)
		return d, true, ok, why
	}
}

// homeDir is rel under the user's home (home, or javaHome for JVM tools).
func homeDir(homeOf func(shell.Vars, shell.User) (string, bool, string), rel string) place {
	return func(c call) (string, bool, bool, string) {
		d, ok, why := inHome(homeOf, c.Env, c.User, rel)
		return d, true, ok, why
	}
}

// dirSetting resolves a variable that names a directory (PIP_CACHE_DIR,
// GOCACHE, …). It returns the clean absolute path, or ok=false and a reason.
// Unset and empty values come back as "", true: the caller falls back.
// tildeHome, if non-empty, expands a leading "~" (pip and npm do that).
func dirSetting(env shell.Vars, name, tildeHome string) (dir string, ok bool, why string) {
	v, set, known := env.Get(name)
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
func userDir(env shell.Vars, u shell.User, xdgVar, sub, homeSub string) (string, bool, string) {
	if d, ok, why := dirSetting(env, xdgVar, ""); !ok || d != "" {
		if !ok {
			return "", false, why
		}
		return path.Join(d, sub), true, ""
	}
	return inHome(shell.Home, env, u, homeSub)
}

// inHome is rel under the home that homeOf (home, or javaHome for JVM
// tools) gives u.
func inHome(homeOf func(shell.Vars, shell.User) (string, bool, string), env shell.Vars, u shell.User, rel string) (string, bool, string) {
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
func javaHome(env shell.Vars, u shell.User) (string, bool, string) {
	switch u.Kind {
	case shell.RootUser:
		return "/root", true, ""
	case shell.NamedUser:
		return "", false, "user " + u.Spec + " not resolved yet"
	}
	if h, ok, _ := shell.Home(env, u); ok {
		return h, true, ""
	}
	return "", false, "Java's user.home of user " + u.Spec + " unknown"
}

// truthy reads a boolean setting the way most tools do.
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on", "y", "t":
		return true
	}
	return false
}
