// Package optout reads what a Dockerfile itself says about autocache: the
// parser directive `# autocache=off` or `# autocache=managers=apt,pip`
// among the directives at the top of the file, and a `# autocache: off`
// comment line directly above a RUN instruction, which leaves that step
// as upstream makes it. Upstream's parser takes both for comments, so the
// Dockerfile stays valid everywhere.
//
// Where the directive may stand follows BuildKit's own directive parser
// (parser.DirectiveParser): directives are the `# key=value` lines at the
// very top, and BuildKit stops reading them at the first line that is not
// one of its own (syntax, escape, check). So autocache's directive is the
// line where BuildKit stops, and a `# syntax=` line below it would be
// ignored by BuildKit (and then autocache would not run at all): it must
// come after them.
package optout

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/autocache/autocache/pkgmgr"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
)

// Key is the directive's and the comment's key.
const Key = "autocache"

// File is what a Dockerfile says about autocache.
type File struct {
	// Off: `# autocache=off`, the build is upstream's.
	Off bool
	// Managers: `# autocache=managers=apt,pip`, only these (canonical
	// names, in the order given); nil when the directive doesn't say.
	Managers []string
	// Line is the directive's line (1-based), 0 when there is none.
	Line int
	// Steps maps the first line of each RUN instruction under a
	// `# autocache: off` comment to that comment's line.
	Steps map[int]int
}

// Error is a Dockerfile's autocache setting that can't be read; Line is
// the Dockerfile line (1-based) it is on.
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

func errorf(line int, format string, a ...any) error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, a...)}
}

// Read reads a Dockerfile's autocache settings. A setting it can't read
// (an unknown value, a manager it doesn't know, a comment in a place where
// it would do nothing) is an *Error: a typo must not silently turn
// caching on or off. A Dockerfile that BuildKit's parser rejects has no
// settings and no error: the build reports that error itself.
func Read(dockerfile []byte) (File, error) {
	f := File{Steps: map[int]int{}}
	lines := splitLines(dockerfile)
	first := directiveEnd(lines)
	if first < len(lines) {
		if v, ok := directive(lines[first]); ok {
			f.Line = first + 1
			if err := f.setDirective(v); err != nil {
				return File{}, err
			}
		}
	}
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return f, nil
	}
	nodes := res.AST.Children
	inside := make([]bool, len(lines)+2) // lines that belong to an instruction
	starts := map[int]*parser.Node{}
	for _, n := range nodes {
		starts[n.StartLine] = n
		for l := n.StartLine; l <= n.EndLine && l < len(inside); l++ {
			inside[l] = true
		}
	}
	for i, raw := range lines {
		line := i + 1
		if line == f.Line || inside[line] {
			continue
		}
		text, ok := commentText(raw)
		if !ok {
			continue
		}
		if v, ok := directive(raw); ok {
			return File{}, errorf(line, "`# %s=%s` is a parser directive: it must be among the directives at the top of the file, right after any `# syntax=`, `# escape=` or `# check=` (above a RUN, write `# autocache: off`)", Key, v)
		}
		v, ok := comment(text)
		if !ok {
			continue
		}
		if !strings.EqualFold(v, "off") {
			return File{}, errorf(line, "`# %s: %s`: the only setting for one step is `# %s: off`", Key, v, Key)
		}
		// The comment block it is in must end directly above a RUN.
		next := line + 1
		for next <= len(lines) && !inside[next] {
			if _, ok := commentText(lines[next-1]); !ok {
				break
			}
			next++
		}
		n := starts[next]
		switch {
		case n == nil:
			return File{}, errorf(line, "`# %s: off` must be directly above a RUN instruction (no blank line between)", Key)
		case !strings.EqualFold(n.Value, "run"):
			return File{}, errorf(line, "`# %s: off` is above %s on line %d: it leaves only a RUN step alone (for the whole file, use the directive `# %s=off` at the top)", Key, strings.ToUpper(n.Value), next, Key)
		}
		f.Steps[next] = line
	}
	return f, nil
}

func (f *File) setDirective(v string) error {
	switch k, list, _ := strings.Cut(v, "="); {
	case strings.EqualFold(strings.TrimSpace(v), "off"):
		f.Off = true
	case strings.EqualFold(strings.TrimSpace(k), "managers"):
		known := pkgmgr.Names()
		f.Managers = []string{}
		for _, m := range strings.Split(list, ",") {
			m = strings.ToLower(strings.TrimSpace(m))
			if m == "" {
				continue
			}
			if !slices.Contains(known, m) {
				return errorf(f.Line, "`# %s=%s`: unknown package manager %q (known: %s)", Key, v, m, strings.Join(known, ", "))
			}
			if !slices.Contains(f.Managers, m) {
				f.Managers = append(f.Managers, m)
			}
		}
	default:
		return errorf(f.Line, "`# %s=%s`: the directive takes `off` or `managers=<name>,…`", Key, v)
	}
	return nil
}

// Narrow combines the file's settings with the build's (the build args
// AUTOCACHE=off and AUTOCACHE_MANAGERS): each can only take away. The
// build is off if either says so; a manager is used only if every list
// given names it (nil = no list).
func (f File) Narrow(off bool, managers []string) (bool, []string) {
	off = off || f.Off
	switch {
	case f.Managers == nil:
	case managers == nil:
		managers = slices.Clone(f.Managers)
	default:
		managers = slices.DeleteFunc(slices.Clone(managers), func(m string) bool { return !slices.Contains(f.Managers, m) })
	}
	if off {
		managers = []string{}
	}
	return off, managers
}

// LeftAlone maps the first line of each RUN under `# autocache: off` to
// why it is left alone, for notes (llbtransform.Options.Off).
func (f File) LeftAlone() map[int]string {
	if len(f.Steps) == 0 {
		return nil
	}
	out := make(map[int]string, len(f.Steps))
	for run, c := range f.Steps {
		out[run] = fmt.Sprintf("`# %s: off` on line %d", Key, c)
	}
	return out
}

// directiveEnd is the index of the first line that BuildKit's directive
// parser does not take as one of its directives: where an autocache
// directive may stand. A byte-order mark and a shebang line go first, as
// in parser.DetectSyntax.
func directiveEnd(lines [][]byte) int {
	start := 0
	if len(lines) > 0 && bytes.HasPrefix(lines[0], []byte("#!")) {
		start = 1
	}
	var dp parser.DirectiveParser
	for i := start; i < len(lines); i++ {
		d, err := dp.ParseLine(lines[i])
		if err != nil || d == nil {
			return i
		}
	}
	return len(lines)
}

// commentText is a comment line's text after '#', trimmed.
func commentText(line []byte) (string, bool) {
	s := strings.TrimSpace(string(line))
	if !strings.HasPrefix(s, "#") {
		return "", false
	}
	return strings.TrimSpace(s[1:]), true
}

// directive reads `# autocache=<value>` in the shape of a parser
// directive (`# key=value`, key in any case, blanks around '=').
func directive(line []byte) (string, bool) {
	text, ok := commentText(line)
	if !ok {
		return "", false
	}
	k, v, ok := strings.Cut(text, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(k), Key) {
		return "", false
	}
	return strings.TrimSpace(v), true
}

// comment reads `autocache: <value>` from a comment's text.
func comment(text string) (string, bool) {
	k, v, ok := strings.Cut(text, ":")
	if !ok || !strings.EqualFold(strings.TrimSpace(k), Key) {
		return "", false
	}
	return strings.TrimSpace(v), true
}

// splitLines splits a Dockerfile into lines as BuildKit's parser counts
// them, without their line endings and without a byte-order mark.
func splitLines(dt []byte) [][]byte {
	dt = bytes.TrimPrefix(dt, []byte{0xEF, 0xBB, 0xBF})
	if len(dt) == 0 {
		return nil
	}
	lines := bytes.SplitAfter(dt, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		lines[i] = bytes.TrimRight(l, "\r\n")
	}
	return lines
}

// WithSource attaches the Dockerfile line of an *Error to it, the way
// BuildKit reports Dockerfile errors (buildctl and buildx print the line
// and the lines around it); info is the Dockerfile (its Data at least).
// Other errors are returned as they are.
func WithSource(err error, info *pb.SourceInfo) error {
	var e *Error
	if info == nil || !errors.As(err, &e) {
		return err
	}
	line := int32(e.Line)
	return errdefs.WithSource(fmt.Errorf("autocache: %s", e.Msg), &errdefs.Source{
		Info:   info,
		Ranges: []*pb.Range{{Start: &pb.Position{Line: line}, End: &pb.Position{Line: line}}},
	})
}

// Dockerfile is the Dockerfile a definition was converted from, as its
// source info carries it (dockerfile2llb's source map); nil when it has
// none.
func Dockerfile(def *pb.Definition) *pb.SourceInfo {
	for _, info := range def.GetSource().GetInfos() {
		if info.GetLanguage() == "Dockerfile" && len(info.GetData()) > 0 {
			return info
		}
	}
	return nil
}
