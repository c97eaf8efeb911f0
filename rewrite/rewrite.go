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
}

// Rewrite rewrites a Dockerfile (see the package comment) for the target,
// platform and build args of opt, as plan.Transform sees it.
func Rewrite(ctx context.Context, dockerfile []byte, opt plan.Options) (*Result, error) {
	input, tr, err := plan.Transform(ctx, dockerfile, opt)
	if err != nil {
		return nil, err
	}
	res := &Result{Dockerfile: dockerfile}
	if !tr.Changed {
		return res, nil
	}
	doc, err := parseDoc(dockerfile)
	if err != nil {
		return nil, err
	}
	w := &writer{
		doc:   doc,
		ns:    opt.BuildArgs["BUILDKIT_CACHE_MOUNT_NS"],
		in:    decode(input),
		out:   decode(tr.Def),
		files: &filesStage{name: doc.freeStageName("autocache-files")},
	}
	steps := slices.Clone(tr.Steps)
	sort.SliceStable(steps, func(i, j int) bool {
		return llbtransform.FirstLine(steps[i].Locations) < llbtransform.FirstLine(steps[j].Locations)
	})
	done := map[int]bool{}
	for _, s := range steps {
		if !s.Rewritten {
			continue
		}
		line := llbtransform.FirstLine(s.Locations)
		if done[line] {
			continue // the same RUN again (a stage reached twice): one text
		}
		done[line] = true
		st, err := w.step(s, line)
		if err != nil {
			res.Left = append(res.Left, Left{Line: line, Why: err.Error()})
			continue
		}
		res.Steps = append(res.Steps, st)
	}
	if len(res.Steps) == 0 {
		return res, nil
	}
	if len(w.files.files) > 0 {
		at, text := doc.stageInsertion(w.files)
		w.edits = append(w.edits, edit{start: at, end: at, text: text})
	}
	out, err := apply(dockerfile, w.edits)
	if err != nil {
		return nil, err
	}
	if _, err := parser.Parse(bytes.NewReader(out)); err != nil {
		return nil, fmt.Errorf("rewrite: the result does not parse (a bug): %w", err)
	}
	res.Dockerfile = out
	return res, nil
}

// writer collects the text edits of one rewrite.
type writer struct {
	doc     *doc
	ns      string
	in, out map[digest.Digest]*pb.Op
	files   *filesStage
	edits   []edit
}

// step writes out the changes of one rewritten step on the RUN at line.
func (w *writer) step(s llbtransform.Step, line int) (Step, error) {
	n := w.doc.runs[line]
	if n == nil {
		return Step{}, fmt.Errorf("no RUN instruction starts on line %d (a step from the base image's ONBUILD?)", line)
	}
	inEx, outEx := w.in[s.OldDigest].GetExec(), w.out[s.Digest].GetExec()
	if inEx == nil || outEx == nil {
		return Step{}, fmt.Errorf("line %d: the step is not in the definition (a bug)", line)
	}
	st := Step{Line: line}
	var flags []string
	var fileFlags []string
	for _, m := range s.Mounts {
		switch m.Type {
		case "cache":
			f, err := w.cacheFlag(m)
			if err != nil {
				return Step{}, err
			}
			flags = append(flags, f)
		case "bind":
			f, err := w.fileFlag(w.out[s.Digest], outEx, m.Target)
			if err != nil {
				return Step{}, err
			}
			fileFlags = append(fileFlags, f)
		default:
			return Step{}, fmt.Errorf("a %s mount can't be written out", m.Type)
		}
	}
	if len(fileFlags) > 0 && w.doc.numericFrom != 0 {
		return Step{}, fmt.Errorf("the generated files need a stage, which would renumber the stages that line %d names by number: name them (FROM … AS name)", w.doc.numericFrom)
	}
	flags = append(flags, fileFlags...)
	var edits []edit
	inArgs, outArgs := inEx.GetMeta().GetArgs(), outEx.GetMeta().GetArgs()
	prefix, err := envPrefix(inEx.GetMeta().GetEnv(), outEx.GetMeta().GetEnv())
	if err != nil {
		return Step{}, err
	}
	if prefix != "" || !slices.Equal(inArgs, outArgs) {
		if len(inArgs) < 2 || len(inArgs) != len(outArgs) || !slices.Equal(inArgs[:len(inArgs)-1], outArgs[:len(outArgs)-1]) || n.Attributes["json"] {
			return Step{}, fmt.Errorf("line %d: the step's argv changes outside a shell script (%q → %q): a Dockerfile can't say that", line, inArgs, outArgs)
		}
		old, script := inArgs[len(inArgs)-1], prefix+outArgs[len(outArgs)-1]
		edits, err = w.doc.scriptEdits(n, old, script)
		if err != nil {
			return Step{}, fmt.Errorf("line %d: %v", line, err)
		}
		st.Script = true
	}
	at, err := w.doc.afterKeyword(n)
	if err != nil {
		return Step{}, err
	}
	if len(flags) > 0 {
		edits = append(edits, edit{start: at, end: at, text: " " + strings.Join(flags, " ")})
	}
	st.Mounts = flags
	w.edits = append(w.edits, edits...)
	return st, nil
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

// fileFlag is the --mount flag that binds the generated file at target of
// the step (op, ex) from the stage of generated files.
func (w *writer) fileFlag(op *pb.Op, ex *pb.ExecOp, target string) (string, error) {
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
				return "", fmt.Errorf("generated file %s: mode %o and owner %v can't come from a heredoc COPY", target, mk.Mode, mk.Owner)
			}
			name, err := w.files.add(path.Base(target), mk.Data)
			if err != nil {
				return "", err
			}
			return mountFlag([]string{"type=bind", "from=" + w.files.name, "source=" + name, "target=" + target})
		}
	}
	return "", fmt.Errorf("generated file %s not found in the definition (a bug)", target)
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
