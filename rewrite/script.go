package rewrite

import (
	"bytes"
	"errors"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/pmezard/go-difflib/difflib"
)

// Script edits: the transform edits the script a RUN runs (the last
// argument of `/bin/sh -c …`); here those edits go back into the
// Dockerfile's text, where that script is spread over continuation lines
// or sits in a heredoc.

// scriptEdits are the Dockerfile edits that make RUN n run script instead
// of old.
func (d *doc) scriptEdits(n *parser.Node, old, script string) ([]edit, error) {
	offs, err := d.scriptOffsets(n, old)
	if err != nil {
		return nil, err
	}
	// pos is where script byte i is in the file; len(old) is after the last.
	pos := func(i int) int {
		if i < len(offs) {
			return offs[i]
		}
		return offs[len(offs)-1] + 1
	}
	var out []edit
	for _, s := range splices(old, script) {
		if strings.ContainsAny(s.text, "\n\r") && len(n.Heredocs) == 0 {
			return nil, errors.New("an edit adds a line break inside the instruction")
		}
		if s.a == s.b {
			out = append(out, edit{start: pos(s.a), end: pos(s.a), text: s.text})
			continue
		}
		// Bytes of the script that are contiguous in the file; a line
		// continuation between them stays, so the lines stay as they were.
		text := s.text
		for i := s.a; i < s.b; {
			j := i + 1
			for j < s.b && offs[j] == offs[j-1]+1 {
				j++
			}
			out = append(out, edit{start: offs[i], end: offs[j-1] + 1, text: text})
			text = ""
			i = j
		}
	}
	return out, nil
}

// scriptOffsets maps each byte of old, the script RUN n runs, to its offset
// in the file. A shell-form RUN's script is the end of its logical line:
// its lines joined as BuildKit's parser joins them (continuations dropped,
// comment and blank lines inside skipped); a heredoc's is its body.
func (d *doc) scriptOffsets(n *parser.Node, old string) ([]int, error) {
	if old == "" {
		return nil, errors.New("the step's script is empty")
	}
	var logical []byte
	var offs []int
	for l := n.StartLine; l <= n.EndLine; l++ {
		raw := d.line(l)
		base := d.lineStart[l]
		content := bytes.TrimRight(raw, "\r\n")
		if l == n.StartLine {
			ws := len(content) - len(bytes.TrimLeft(content, " \t\r\n\v\f"))
			content, base = content[ws:], base+ws
		} else if isCommentLine(raw) || len(bytes.TrimSpace(content)) == 0 {
			continue
		}
		kept, more := d.continuation(content)
		for i := range kept {
			offs = append(offs, base+i)
		}
		logical = append(logical, kept...)
		if !more {
			break
		}
	}
	if i := bytes.LastIndex(logical, []byte(old)); i >= 0 && len(bytes.TrimSpace(logical[i+len(old):])) == 0 {
		return offs[i : i+len(old)], nil
	}
	if len(n.Heredocs) == 1 {
		// The body: the lines after the first up to the terminator,
		// without their leading tabs for <<- (parser.ChompHeredocContent).
		var body []byte
		var offs []int
		for l := n.StartLine + 1; l < n.EndLine; l++ {
			raw, base := d.line(l), d.lineStart[l]
			if n.Heredocs[0].Chomp {
				tabs := len(raw) - len(bytes.TrimLeft(raw, "\t"))
				raw, base = raw[tabs:], base+tabs
			}
			for i := range raw {
				offs = append(offs, base+i)
			}
			body = append(body, raw...)
		}
		if bytes.Count(body, []byte(old)) == 1 {
			i := bytes.Index(body, []byte(old))
			return offs[i : i+len(old)], nil
		}
	}
	return nil, errors.New("can't find the step's script in the Dockerfile's text")
}

// continuation is a line's content without a line-continuation escape at
// its end (and the blanks after it), and whether the instruction goes on:
// BuildKit's rule, an escape that is the last non-blank character and not
// itself escaped.
func (d *doc) continuation(content []byte) ([]byte, bool) {
	t := bytes.TrimRight(content, " \t")
	if len(t) == 0 || t[len(t)-1] != d.escape {
		return content, false
	}
	if len(t) >= 2 && t[len(t)-2] == d.escape {
		return content, false
	}
	return t[:len(t)-1], true
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
