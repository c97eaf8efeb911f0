package shell

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Edit is one change to a step's argv: bytes [Start,End) of argv[Arg]
// become Repl; or (Elem) argv[Arg] is dropped; or (All) the argv becomes
// ["true"].
type Edit struct {
	Arg        int
	Start, End int
	Repl       string
	Elem       bool
	All        bool
}

// replace builds an edit of src's bytes [a,b).
func (src *source) replace(a, b int, repl string) *Edit {
	if !src.editable() {
		return nil
	}
	return &Edit{Arg: src.arg, Start: src.base + a, End: src.base + b, Repl: repl}
}

// wholeEdit replaces a simple command by `true`, keeping redirections that
// sit inside it (they may create files).
func (w *walker) wholeEdit(c *syntax.CallExpr, s *syntax.Stmt, src *source) *Edit {
	a, b := off(c.Pos()), off(c.End())
	repl := "true"
	for _, r := range s.Redirs {
		ra, rb := off(r.Pos()), off(r.End())
		if r.Hdoc != nil {
			rb = off(r.Word.End()) // the body stays where it is, after the line
		}
		if ra >= a && ra < b {
			repl += " " + src.text[ra:rb]
		}
	}
	return src.replace(a, b, repl)
}

// DeleteWord is the edit that removes one word.
func DeleteWord(x Word) *Edit {
	switch {
	case x.Arg < 0:
		return nil
	case x.Elem:
		return &Edit{Arg: x.Arg, Elem: true}
	}
	if x.glue {
		return &Edit{Arg: x.Arg, Start: x.gap, End: x.End, Repl: " "}
	}
	return &Edit{Arg: x.Arg, Start: x.gap, End: x.End}
}

// ReplaceWord is the edit that writes text, as is, in place of one word
// (in exec form the element becomes text: one argv element).
func ReplaceWord(x Word, text string) *Edit {
	if x.Arg < 0 {
		return nil
	}
	return &Edit{Arg: x.Arg, Start: x.Start, End: x.End, Repl: text}
}

// InsertAfter is the edit that adds " text" right after a word of a shell
// script (a flag after the program name, say). An exec-form argv element
// can't grow into two, so that gives nil.
func InsertAfter(x Word, text string) *Edit {
	if x.Arg < 0 || x.Elem {
		return nil
	}
	return &Edit{Arg: x.Arg, Start: x.End, End: x.End, Repl: " " + text}
}

// Apply applies non-overlapping edits to a copy of args.
func Apply(args []string, edits []*Edit) ([]string, error) {
	out := slices.Clone(args)
	byArg := map[int][]*Edit{}
	drop := map[int]bool{}
	for _, e := range edits {
		switch {
		case e == nil:
			return nil, errors.New("missing edit")
		case e.All:
			return []string{"true"}, nil
		case e.Arg < 0 || e.Arg >= len(args):
			return nil, fmt.Errorf("edit of argument %d out of range", e.Arg)
		case e.Elem:
			drop[e.Arg] = true
		default:
			byArg[e.Arg] = append(byArg[e.Arg], e)
		}
	}
	for i, es := range byArg {
		// Outer edits first; an edit inside one already made is moot. An
		// insertion (start == end) goes before an edit that starts where
		// it is, and is moot only strictly inside an edit already made.
		sort.SliceStable(es, func(x, y int) bool {
			if es[x].Start != es[y].Start {
				return es[x].Start < es[y].Start
			}
			if (es[x].Start == es[x].End) != (es[y].Start == es[y].End) {
				return es[x].Start == es[x].End
			}
			return es[x].End > es[y].End
		})
		s := args[i]
		var b strings.Builder
		last := 0
		var prev *Edit
		for _, e := range es {
			if e.End < e.Start || e.End > len(s) {
				return nil, fmt.Errorf("bad edit [%d,%d) of argument %d", e.Start, e.End, i)
			}
			if e.Start == e.End && e.Start == last && prev != nil && prev.Start == prev.End {
				if e.Repl == prev.Repl {
					continue // the same insertion twice
				}
			} else if e.Start == e.End {
				if prev != nil && e.Start > prev.Start && e.Start < prev.End {
					continue
				}
			} else if prev != nil && e.Start >= prev.Start && e.End <= prev.End {
				continue
			}
			if e.Start < last {
				return nil, fmt.Errorf("pkgmgr: overlapping edits in argument %d at %d", i, e.Start)
			}
			b.WriteString(s[last:e.Start])
			b.WriteString(e.Repl)
			last, prev = e.End, e
		}
		b.WriteString(s[last:])
		out[i] = b.String()
	}
	if len(drop) > 0 {
		kept := out[:0:0]
		for i, x := range out {
			if !drop[i] {
				kept = append(kept, x)
			}
		}
		out = kept
	}
	return out, nil
}
