package rewrite

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// The Dockerfile being rewritten, as BuildKit's parser reads it.

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
