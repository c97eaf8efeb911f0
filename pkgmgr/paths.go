package pkgmgr

import (
	"path"
	"strings"

	"github.com/autocache/autocache/internal/fspath"
	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// Paths here are absolute and clean. Patterns are path.Match patterns
// (globs from the script), also absolute and clean.

func comps(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// cleanAbs cleans an absolute path; anything else becomes a path that
// matches nothing.
func cleanAbs(p string) string {
	if !path.IsAbs(p) {
		return "\x00"
	}
	return path.Clean(p)
}

// literalComp returns the component a pattern component matches if it has
// no active glob character.
func literalComp(c string) (string, bool) {
	if !strings.ContainsAny(c, `*?[\`) {
		return c, true
	}
	var b strings.Builder
	for i := 0; i < len(c); i++ {
		switch c[i] {
		case '*', '?', '[':
			return "", false
		case '\\':
			if i+1 < len(c) {
				i++
			}
		}
		b.WriteByte(c[i])
	}
	return b.String(), true
}

// patUnder reports whether everything pat can match is at or under dir.
func patUnder(pat, dir string) bool {
	pc, dc := comps(pat), comps(dir)
	if len(pc) < len(dc) {
		return false
	}
	for i, d := range dc {
		// A glob here (`/root/.npm*`) also matches siblings (.npmrc):
		// that rm is more than cleanup, so it can't just go.
		if l, ok := literalComp(pc[i]); !ok || l != d {
			return false
		}
	}
	return true
}

// patReaches reports whether pat can match dir or one of its ancestors:
// removing that would take the mountpoint at dir with it.
func patReaches(pat, dir string) bool {
	pc, dc := comps(pat), comps(dir)
	if len(pc) > len(dc) {
		return false
	}
	for i, c := range pc {
		if ok, err := path.Match(c, dc[i]); !ok || err != nil {
			return false
		}
	}
	return true
}

// absPattern makes a word's pattern absolute against cwd; ok=false when it
// can't be placed.
func absPattern(w shell.Word, cwd string) (string, bool) {
	if !w.Known || w.Val == "" {
		return "", false
	}
	p := w.Pat
	if !strings.HasPrefix(p, "/") {
		if cwd == "" {
			return "", false
		}
		p = shell.EscapeGlob(cwd) + "/" + p
	}
	return path.Clean(p), true
}

// rmCmd is an `rm` of the step and its path operands.
type rmCmd struct {
	cmd   *shell.Command
	paths []int // indexes into cmd.argv
}

func findRms(cmds []*shell.Command) []rmCmd {
	var rms []rmCmd
	for _, c := range cmds {
		if c.Name != "rm" {
			continue
		}
		r := rmCmd{cmd: c}
		opts := true
		for i := 1; i < len(c.Argv); i++ {
			a := c.Argv[i]
			if opts && a.Known && a.Val == "--" {
				opts = false
				continue
			}
			if opts && a.Known && len(a.Val) > 1 && a.Val[0] == '-' {
				continue
			}
			r.paths = append(r.paths, i)
		}
		rms = append(rms, r)
	}
	return rms
}

// mayHit reports whether an rm operand we could not resolve may remove
// target: it names a cache variable or asks a package manager, and its
// known prefix doesn't rule target out.
func mayHit(w shell.Word, target, cwd string) bool {
	suspect := false
	for _, p := range w.Params {
		if isCacheVar(p) {
			suspect = true
		}
	}
	for _, p := range w.Substituted() {
		if registered().cachePrograms[p] {
			suspect = true
		}
	}
	if !suspect {
		return false
	}
	pre := w.Prefix
	if w.Known {
		pre = w.Val
	}
	if pre == "" { // starts with the unknown part: could be anywhere
		return true
	}
	if !strings.HasPrefix(pre, "/") {
		if cwd == "" {
			return true
		}
		pre = cwd + "/" + pre
	}
	i := strings.LastIndexByte(pre, '/')
	dir := path.Clean(pre[:i+1])
	return fspath.Within(target, dir) || fspath.Within(dir, target)
}

// Directories a cache mount must never cover: it would hide (and keep out
// of the image) far more than a cache.
var broadDirs = map[string]bool{
	"/": true, "/bin": true, "/boot": true, "/dev": true, "/etc": true, "/home": true, "/lib": true,
	"/lib32": true, "/lib64": true, "/media": true, "/mnt": true, "/opt": true, "/proc": true, "/root": true,
	"/run": true, "/sbin": true, "/srv": true, "/sys": true, "/tmp": true, "/usr": true, "/var": true,
	"/usr/bin": true, "/usr/lib": true, "/usr/local": true, "/usr/local/bin": true, "/usr/local/lib": true,
	"/usr/share": true, "/var/lib": true, "/var/tmp": true, "/var/cache": true, "/var/log": true,
}
