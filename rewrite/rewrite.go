// Package rewrite writes out what autocache does to a Dockerfile, in the
// Dockerfile itself: each RUN step the transform changes gets the
// `--mount=type=cache,…` flags with the same ids, sharing and owners, its
// script the same edits, and the files the transform generates (apt's
// docker-clean shadow, zypper's .keep_packages) come from a stage of
// heredoc COPYs that the step bind-mounts. The stock Dockerfile frontend
// then builds, for the same build args, target and platform, the steps
// autocache would have solved; and autocache over the result adds nothing.
//
// Everything else stays byte for byte: comments, blank lines, line
// continuations, the text of every other instruction. New text goes on
// the RUN's first line (the flags) and into the edited words of its
// script; the stage of generated files is the only new lines, before the
// first FROM.
//
// The transform runs as `autocache plan` runs it (package plan): base
// images' configs from their registries, or empty ones offline, and no
// image filesystem is read. So named users' steps are left as they are
// (no /etc/passwd to resolve them), and a cache is written even where the
// base image has content in its directory, which the frontend, reading
// the image, would have refused.
package rewrite

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/autocache/autocache/llbtransform"
	"github.com/autocache/autocache/plan"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// Result is a rewritten Dockerfile.
type Result struct {
	Dockerfile []byte
	Steps      []Step // the RUN steps written out, in line order
	Left       []Left // steps autocache changes that could not be written out
	// Skipped are the targets that could not be converted (say, for want
	// of a build arg); their own steps are left as they are.
	Skipped []string
}

// Changed says whether the Dockerfile changed.
func (r *Result) Changed() bool { return len(r.Steps) > 0 }

// Step is a RUN instruction that got autocache's changes.
type Step struct {
	Line   int      // first line of the RUN, in the input
	Mounts []string // the --mount flags added
	Script bool     // its script was edited
}

// Left is a step autocache changes whose change can't be written in the
// Dockerfile; it is left as it was.
type Left struct {
	Line int
	Why  string
	// ByTarget: the targets that build the step disagree on it, so it is
	// left as upstream has it, which is right for each of them.
	ByTarget bool
}

// Rewrite rewrites a Dockerfile (see the package comment) for the
// platform and build args of opt, as plan.Transform sees it. With a
// target, for that target's build; without, for every target: what
// autocache does to a step can depend on the target built (a later stage
// that reads a directory from its layers, or runs without network, keeps
// that directory out of a cache), and a step is written out only where
// every target that builds it gets the same; elsewhere it is left as it
// is, with why (Result.Left).
func Rewrite(ctx context.Context, dockerfile []byte, opt plan.Options) (*Result, error) {
	targets := []string{opt.Target}
	var doc *doc
	changes := map[int][]targetChange{} // by RUN line, one per target that builds it
	var skipped []string
	for i := 0; i < len(targets); i++ {
		o := opt
		o.Target = targets[i]
		input, tr, err := plan.Transform(ctx, dockerfile, o)
		if err != nil && i == 0 {
			return nil, err
		}
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("target %s: %v", o.Target, firstLine(err.Error())))
			continue
		}
		if doc == nil {
			if doc, err = parseDoc(dockerfile); err != nil {
				return nil, err
			}
			if opt.Target == "" {
				targets = append(targets, doc.targets()...)
			}
		}
		w := &writer{doc: doc, ns: opt.BuildArgs["BUILDKIT_CACHE_MOUNT_NS"], in: decode(input), out: decode(tr.Def)}
		for _, s := range tr.Steps {
			line := llbtransform.FirstLine(s.Locations)
			if line == 0 {
				continue
			}
			// A RUN that the graph holds twice must get the same both times.
			c := change{}
			if s.Rewritten {
				c = w.step(s, line)
			}
			changes[line] = append(changes[line], targetChange{target: o.Target, change: c})
		}
	}
	res := &Result{Dockerfile: dockerfile, Skipped: skipped}
	files := &filesStage{name: doc.freeStageName("autocache-files")}
	var edits []edit
	for _, line := range slices.Sorted(maps.Keys(changes)) {
		cs := changes[line]
		c := cs[0].change
		if why := differs(cs); why != "" {
			res.Left = append(res.Left, Left{Line: line, Why: why, ByTarget: true})
			continue
		}
		switch {
		case c.err != nil:
			res.Left = append(res.Left, Left{Line: line, Why: c.err.Error()})
		case c.rewritten:
			st, e, err := c.commit(line, files)
			if err != nil {
				res.Left = append(res.Left, Left{Line: line, Why: err.Error()})
				continue
			}
			res.Steps = append(res.Steps, st)
			edits = append(edits, e...)
		}
	}
	if len(res.Steps) == 0 {
		return res, nil
	}
	if len(files.files) > 0 {
		at, text := doc.stageInsertion(files)
		edits = append(edits, edit{start: at, end: at, text: text})
	}
	out, err := apply(dockerfile, edits)
	if err != nil {
		return nil, err
	}
	if _, err := parser.Parse(bytes.NewReader(out)); err != nil {
		return nil, fmt.Errorf("rewrite: the result does not parse (a bug): %w", err)
	}
	res.Dockerfile = out
	return res, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// targetChange is what one target's build does to a RUN.
type targetChange struct {
	target string // "" = the default
	change change
}

// differs says why the targets that build a RUN disagree on it, or "".
func differs(cs []targetChange) string {
	for _, c := range cs[1:] {
		if c.change.signature() != cs[0].change.signature() {
			name := func(t string) string {
				if t == "" {
					return "the default target"
				}
				return "target " + strconv.Quote(t)
			}
			return fmt.Sprintf("autocache does this step differently for %s (%s) than for %s (%s); as upstream has it, it is right for both (or rewrite for one of them with --target)",
				name(cs[0].target), cs[0].change.summary(), name(c.target), c.change.summary())
		}
	}
	return ""
}

// writer works out the changes of one target's transform.
type writer struct {
	doc     *doc
	ns      string
	in, out map[digest.Digest]*pb.Op
}

// change is what the transform does to one RUN, in Dockerfile terms.
type change struct {
	rewritten bool
	flags     []string  // cache mounts' --mount flags
	files     []fileUse // generated files to bind
	edits     []edit    // of the script
	at        int       // where the flags go (after the keyword)
	script    bool
	err       error // it can't be written out
}

// fileUse is a generated file that a step binds at target.
type fileUse struct {
	target string
	data   []byte
}

func (c change) signature() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %q %d %v\n", c.rewritten, c.flags, c.at, c.err)
	for _, f := range c.files {
		fmt.Fprintf(&b, "file %s %q\n", f.target, f.data)
	}
	for _, e := range c.edits {
		fmt.Fprintf(&b, "edit %d %d %q\n", e.start, e.end, e.text)
	}
	return b.String()
}

func (c change) summary() string {
	switch {
	case c.err != nil:
		return "can't be written out"
	case !c.rewritten:
		return "nothing"
	}
	var t []string
	for _, f := range c.flags {
		_, rest, _ := strings.Cut(f, "target=")
		target, _, _ := strings.Cut(rest, ",")
		t = append(t, target)
	}
	if len(t) == 0 {
		return "edits"
	}
	return "caches " + strings.Join(t, ", ")
}

// commit turns the change into the Dockerfile edits of the RUN at line,
// with its generated files added to the files stage.
func (c change) commit(line int, files *filesStage) (Step, []edit, error) {
	flags := slices.Clone(c.flags)
	for _, f := range c.files {
		name, err := files.add(path.Base(f.target), f.data)
		if err != nil {
			return Step{}, nil, err
		}
		flag, err := mountFlag([]string{"type=bind", "from=" + files.name, "source=" + name, "target=" + f.target})
		if err != nil {
			return Step{}, nil, err
		}
		flags = append(flags, flag)
	}
	edits := slices.Clone(c.edits)
	if len(flags) > 0 {
		edits = append(edits, edit{start: c.at, end: c.at, text: " " + strings.Join(flags, " ")})
	}
	return Step{Line: line, Mounts: flags, Script: c.script}, edits, nil
}

// step works out the change of one rewritten step on the RUN at line.
func (w *writer) step(s llbtransform.Step, line int) change {
	c, err := w.stepChange(s, line)
	if err != nil {
		return change{rewritten: true, err: err}
	}
	c.rewritten = true
	return c
}

func (w *writer) stepChange(s llbtransform.Step, line int) (change, error) {
	var c change
	n := w.doc.runs[line]
	if n == nil {
		return c, fmt.Errorf("no RUN instruction starts on line %d (a step from the base image's ONBUILD?)", line)
	}
	inEx, outEx := w.in[s.OldDigest].GetExec(), w.out[s.Digest].GetExec()
	if inEx == nil || outEx == nil {
		return c, fmt.Errorf("line %d: the step is not in the definition (a bug)", line)
	}
	for _, m := range s.Mounts {
		switch m.Type {
		case "cache":
			f, err := w.cacheFlag(m)
			if err != nil {
				return c, err
			}
			c.flags = append(c.flags, f)
		case "bind":
			data, err := w.generated(w.out[s.Digest], outEx, m.Target)
			if err != nil {
				return c, err
			}
			c.files = append(c.files, fileUse{target: m.Target, data: data})
		default:
			return c, fmt.Errorf("a %s mount can't be written out", m.Type)
		}
	}
	if len(c.files) > 0 && w.doc.numericFrom != 0 {
		return c, fmt.Errorf("the generated files need a stage, which would renumber the stages that line %d names by number: name them (FROM … AS name)", w.doc.numericFrom)
	}
	inArgs, outArgs := inEx.GetMeta().GetArgs(), outEx.GetMeta().GetArgs()
	prefix, err := envPrefix(inEx.GetMeta().GetEnv(), outEx.GetMeta().GetEnv())
	if err != nil {
		return c, err
	}
	if prefix != "" || !slices.Equal(inArgs, outArgs) {
		if len(inArgs) < 2 || len(inArgs) != len(outArgs) || !slices.Equal(inArgs[:len(inArgs)-1], outArgs[:len(outArgs)-1]) || n.Attributes["json"] {
			return c, fmt.Errorf("line %d: the step's argv changes outside a shell script (%q → %q): a Dockerfile can't say that", line, inArgs, outArgs)
		}
		old, script := inArgs[len(inArgs)-1], prefix+outArgs[len(outArgs)-1]
		if c.edits, err = w.doc.scriptEdits(n, old, script); err != nil {
			return c, fmt.Errorf("line %d: %v", line, err)
		}
		c.script = true
	}
	if c.at, err = w.doc.afterKeyword(n); err != nil {
		return c, err
	}
	return c, nil
}

// cacheFlag is the --mount flag that gives the same cache as m: upstream
// makes its id BUILDKIT_CACHE_MOUNT_NS + "/" + id (id defaults to the
// target), so the flag's id is the rest of autocache's.
func (w *writer) cacheFlag(m llbtransform.Mount) (string, error) {
	rel, ok := strings.CutPrefix(m.ID, w.ns+"/")
	if !ok {
		return "", fmt.Errorf("cache id %q is not in the namespace %q (a bug)", m.ID, w.ns)
	}
	kv := []string{"type=cache", "target=" + m.Target}
	if rel != path.Clean(m.Target) {
		kv = append(kv, "id="+rel)
	}
	switch m.Sharing {
	case "shared", "":
	case "locked", "private":
		kv = append(kv, "sharing="+m.Sharing)
	default:
		return "", fmt.Errorf("unknown sharing %q", m.Sharing)
	}
	if m.UID != 0 || m.GID != 0 {
		// Like autocache: the cache starts from a directory (0755) owned by them.
		kv = append(kv, "uid="+strconv.Itoa(m.UID), "gid="+strconv.Itoa(m.GID))
	}
	return mountFlag(kv)
}

// generated is the contents of the generated file that the step (op, ex)
// binds at target.
func (w *writer) generated(op *pb.Op, ex *pb.ExecOp, target string) ([]byte, error) {
	for _, m := range ex.Mounts {
		if m.Dest != target || !m.Readonly || m.Input < 0 || int(m.Input) >= len(op.Inputs) {
			continue
		}
		gen := w.out[digest.Digest(op.Inputs[m.Input].Digest)].GetFile()
		for _, a := range gen.GetActions() {
			mk := a.GetMkfile()
			if mk == nil || path.Join("/", mk.Path) != path.Join("/", m.Selector) {
				continue
			}
			if mk.Mode != 0o644 || mk.Owner != nil {
				return nil, fmt.Errorf("generated file %s: mode %o and owner %v can't come from a heredoc COPY", target, mk.Mode, mk.Owner)
			}
			return mk.Data, nil
		}
	}
	return nil, fmt.Errorf("generated file %s not found in the definition (a bug)", target)
}

// edit replaces bytes [start, end) of the Dockerfile.
type edit struct {
	start, end int
	text       string
}

// apply makes the edits, which must not overlap.
func apply(src []byte, edits []edit) ([]byte, error) {
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	var b bytes.Buffer
	pos := 0
	for _, e := range edits {
		if e.start < pos || e.end < e.start || e.end > len(src) {
			return nil, fmt.Errorf("rewrite: overlapping edits (a bug)")
		}
		b.Write(src[pos:e.start])
		b.WriteString(e.text)
		pos = e.end
	}
	b.Write(src[pos:])
	return b.Bytes(), nil
}
