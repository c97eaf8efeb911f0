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
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/pmezard/go-difflib/difflib"
	"mvdan.cc/sh/v3/syntax"
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

// mountFlag joins a --mount flag's fields; a value that CSV or the
// flag's variable expansion would read differently is refused.
func mountFlag(kv []string) (string, error) {
	for _, f := range kv {
		if strings.ContainsAny(f, ",\"'$\\` \t\n") {
			return "", fmt.Errorf("%q can't be written in a --mount flag", f)
		}
	}
	return "--mount=" + strings.Join(kv, ","), nil
}

// envPrefix writes the step's environment changes as the start of its
// script: a Dockerfile can set or unset a variable only for every later
// step of a stage (ENV, ARG), not for one. Dropped variables are unset,
// set ones exported, as the shell then runs the rest.
func envPrefix(before, after []string) (string, error) {
	inAfter := map[string]bool{}
	for _, kv := range after {
		inAfter[kv] = true
	}
	keys := map[string]bool{}
	for _, kv := range after {
		k, _, _ := strings.Cut(kv, "=")
		keys[k] = true
	}
	var unset, export []string
	for _, kv := range before {
		k, _, _ := strings.Cut(kv, "=")
		if !keys[k] && !slices.Contains(unset, k) {
			unset = append(unset, k)
		}
	}
	inBefore := map[string]bool{}
	for _, kv := range before {
		inBefore[kv] = true
	}
	for _, kv := range after {
		if inBefore[kv] {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		q, err := syntax.Quote(v, syntax.LangPOSIX)
		if err != nil || !syntax.ValidName(k) {
			return "", fmt.Errorf("can't write %q for a shell", kv)
		}
		export = append(export, k+"="+q)
	}
	sort.Strings(unset)
	sort.Strings(export)
	var b strings.Builder
	if len(unset) > 0 {
		b.WriteString("unset " + strings.Join(unset, " ") + "; ")
	}
	if len(export) > 0 {
		b.WriteString("export " + strings.Join(export, " ") + "; ")
	}
	return b.String(), nil
}

// decode indexes a definition's ops by digest.
func decode(def *pb.Definition) map[digest.Digest]*pb.Op {
	out := map[digest.Digest]*pb.Op{}
	for _, dt := range def.GetDef() {
		var op pb.Op
		if err := op.Unmarshal(dt); err == nil {
			out[digest.FromBytes(dt)] = &op
		}
	}
	return out
}

// filesStage is the stage of generated files: one heredoc COPY each.
type filesStage struct {
	name  string
	files []genFile
}

type genFile struct {
	name string // absolute path in the stage
	data []byte
}

// add gives the path of a file with these contents in the stage, adding it
// once; base names the file.
func (s *filesStage) add(base string, data []byte) (string, error) {
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return "", fmt.Errorf("generated file %s does not end in a newline: a heredoc can't say that", base)
	}
	name := "/" + base
	for i := 2; ; i++ {
		j := slices.IndexFunc(s.files, func(f genFile) bool { return f.name == name })
		if j < 0 {
			break
		}
		if bytes.Equal(s.files[j].data, data) {
			return name, nil
		}
		name = "/" + base + "-" + strconv.Itoa(i)
	}
	s.files = append(s.files, genFile{name: name, data: data})
	return name, nil
}

// text is the stage in Dockerfile syntax.
func (s *filesStage) text() string {
	var b strings.Builder
	b.WriteString("# Files autocache generates for the steps that mount them (autocache rewrite).\n")
	b.WriteString("FROM scratch AS " + s.name + "\n")
	for _, f := range s.files {
		eof := "EOF"
		for i := 2; bytes.Contains(append([]byte("\n"), f.data...), []byte("\n"+eof+"\n")); i++ {
			eof = "EOF" + strconv.Itoa(i)
		}
		b.WriteString("COPY <<\"" + eof + "\" " + f.name + "\n")
		b.Write(f.data)
		b.WriteString(eof + "\n")
	}
	b.WriteString("\n")
	return b.String()
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

// tokens splits a script into runs of blanks and of everything else.
func tokens(s string) []string {
	var out []string
	start := 0
	for i := 1; i <= len(s); i++ {
		if i == len(s) || isBlank(s[i]) != isBlank(s[start]) {
			out = append(out, s[start:i])
			start = i
		}
	}
	return out
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// splice is a change of a script: bytes [a, b) become text.
type splice struct {
	a, b int
	text string
}

// splices are the changes that turn old into new, word by word.
func splices(old, new string) []splice {
	ot, nt := tokens(old), tokens(new)
	m := difflib.NewMatcherWithJunk(ot, nt, false, nil)
	offs := func(ts []string) []int {
		o := make([]int, len(ts)+1)
		for i, t := range ts {
			o[i+1] = o[i] + len(t)
		}
		return o
	}
	oo, no := offs(ot), offs(nt)
	var out []splice
	for _, op := range m.GetOpCodes() {
		if op.Tag == 'e' {
			continue
		}
		out = append(out, splice{a: oo[op.I1], b: oo[op.I2], text: new[no[op.J1]:no[op.J2]]})
	}
	return out
}

// parsed Dockerfile ----------------------------------------------------

// doc is the Dockerfile being rewritten.
type doc struct {
	src         []byte
	lineStart   []int // byte offset of each line (1-based: lineStart[1] = 0)
	escape      byte
	runs        map[int]*parser.Node // RUN instructions by first line
	firstFrom   *parser.Node
	nodes       []*parser.Node
	stages      []string
	numericFrom int // first line naming a stage by number, 0 if none
}

func parseDoc(src []byte) (*doc, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	d := &doc{src: src, escape: byte(res.EscapeToken), runs: map[int]*parser.Node{}, lineStart: []int{0, 0}}
	for i, c := range src {
		if c == '\n' {
			d.lineStart = append(d.lineStart, i+1)
		}
	}
	for _, n := range res.AST.Children {
		d.nodes = append(d.nodes, n)
		switch strings.ToLower(n.Value) {
		case "run":
			d.runs[n.StartLine] = n
		case "from":
			if d.firstFrom == nil {
				d.firstFrom = n
			}
		}
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, err
	}
	for _, st := range stages {
		d.stages = append(d.stages, strings.ToLower(st.Name))
		for _, c := range st.Commands {
			if d.numericFrom == 0 && namesStageByNumber(c) {
				if loc := c.Location(); len(loc) > 0 {
					d.numericFrom = loc[0].Start.Line
				}
			}
		}
	}
	return d, nil
}

// namesStageByNumber says whether a command reads a stage by its index.
func namesStageByNumber(c instructions.Command) bool {
	isNum := func(s string) bool { _, err := strconv.Atoi(s); return s != "" && err == nil }
	switch c := c.(type) {
	case *instructions.CopyCommand:
		return isNum(c.From)
	case *instructions.RunCommand:
		if err := c.Expand(func(w string) (string, error) { return w, nil }); err != nil {
			return false
		}
		return slices.ContainsFunc(instructions.GetMounts(c), func(m *instructions.Mount) bool { return isNum(m.From) })
	}
	return false
}

// targets are the named stages but the last (the default target): the
// other builds a Dockerfile can be asked for.
func (d *doc) targets() []string {
	var out []string
	for i, name := range d.stages {
		if name != "" && i < len(d.stages)-1 && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// freeStageName is base, or base-N, whichever no stage is named.
func (d *doc) freeStageName(base string) string {
	name := base
	for i := 2; slices.Contains(d.stages, name); i++ {
		name = base + "-" + strconv.Itoa(i)
	}
	return name
}

// line is line n's bytes with its line ending.
func (d *doc) line(n int) []byte {
	if n < 1 || n >= len(d.lineStart) {
		return nil
	}
	end := len(d.src)
	if n+1 < len(d.lineStart) {
		end = d.lineStart[n+1]
	}
	return d.src[d.lineStart[n]:end]
}

// afterKeyword is the offset right after the instruction's keyword.
func (d *doc) afterKeyword(n *parser.Node) (int, error) {
	l := d.line(n.StartLine)
	i := len(l) - len(bytes.TrimLeft(l, " \t"))
	if len(l) < i+len(n.Value) || !strings.EqualFold(string(l[i:i+len(n.Value)]), n.Value) {
		return 0, fmt.Errorf("line %d does not start with %s", n.StartLine, n.Value)
	}
	return d.lineStart[n.StartLine] + i + len(n.Value), nil
}

// stageInsertion is where the stage of generated files goes, and its text:
// before the first FROM and the comment lines directly above it.
func (d *doc) stageInsertion(s *filesStage) (int, string) {
	line := d.firstFrom.StartLine
	for line > 1 && isCommentLine(d.line(line-1)) && !d.inNode(line-1) && !d.isDirective(line-1) {
		line--
	}
	return d.lineStart[line], s.text()
}

func (d *doc) inNode(line int) bool {
	return slices.ContainsFunc(d.nodes, func(n *parser.Node) bool { return n.StartLine <= line && line <= n.EndLine })
}

// isDirective says whether line is one of the parser directives at the top
// (BuildKit's, or autocache's right after them).
func (d *doc) isDirective(line int) bool {
	var dp parser.DirectiveParser
	for i := 1; i <= line; i++ {
		l := bytes.TrimRight(d.line(i), "\r\n")
		if i == 1 && bytes.HasPrefix(l, []byte("#!")) {
			continue
		}
		dir, err := dp.ParseLine(l)
		if err != nil || dir == nil {
			if i != line {
				return false
			}
			t, _ := strings.CutPrefix(strings.TrimSpace(string(l)), "#")
			k, _, ok := strings.Cut(t, "=")
			return ok && strings.EqualFold(strings.TrimSpace(k), "autocache")
		}
	}
	return true
}

func isCommentLine(l []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(l, " \t"), []byte("#"))
}
