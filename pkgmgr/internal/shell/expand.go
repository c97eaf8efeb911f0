package shell

import (
	"path"
	"strings"
	"unicode/utf8"

	"mvdan.cc/sh/v3/syntax"
)

// Word is one argument as the command will see it, and where it is written.
type Word struct {
	Val    string // value after quote removal and expansions we could resolve
	Pat    string // val as a path.Match pattern (unquoted globs active, quoted ones escaped)
	Known  bool   // val is exact
	Glob   bool   // pat has active glob characters
	Prefix string // for !known: the value up to the first unknown part
	Params []string
	subst  []*syntax.Stmt // statements of command substitutions in the word
	Raw    string         // as written
	node   *syntax.Word   // nil in exec form

	Arg        int  // argv index holding it; -1: not editable
	Start, End int  // byte range in argv[Arg]
	gap        int  // start of the blank before the word, for deletion
	glue       bool // a redirection follows right after: deleting must leave a blank
	hash       bool // a comment follows right after: what is written there must end with a blank
	Elem       bool
}

// Substituted are the programs the word's command substitutions run
// (basenames of literal command names): `$(pip cache dir)` gives "pip".
func (w Word) Substituted() []string {
	var progs []string
	for _, s := range w.subst {
		syntax.Walk(s, func(n syntax.Node) bool {
			if c, ok := n.(*syntax.CallExpr); ok && len(c.Args) > 0 {
				progs = append(progs, path.Base(c.Args[0].Lit()))
			}
			return true
		})
	}
	return progs
}

// literalWord makes a word from an exec-form argv element.
func literalWord(s string, arg int) Word {
	return Word{Val: s, Pat: EscapeGlob(s), Known: true, Raw: s, Arg: arg, End: len(s), Elem: true}
}

func EscapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[\`) {
		return s
	}
	var b strings.Builder
	if utf8.ValidString(s) {
		// Runs between the special (ASCII) bytes are copied whole: a whole
		// script is escaped for every step.
		b.Grow(len(s) + 8)
		start := 0
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '*', '?', '[', '\\':
				b.WriteString(s[start:i])
				b.WriteByte('\\')
				start = i
			}
		}
		b.WriteString(s[start:])
		return b.String()
	}
	for _, r := range s { // invalid UTF-8 comes out as U+FFFD, as it always has
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Text is what we know of a word: its value, or the part before the first
// expansion we could not resolve.
func (w Word) Text() string {
	if w.Known {
		return w.Val
	}
	return w.Prefix
}

// expander resolves words against a shell's state.
type expander struct {
	vars Vars
	user User
	lang syntax.LangVariant
}

// lookup gives the value of $name, or ok=false.
func (e *expander) lookup(name string) (string, bool) {
	if name == "HOME" {
		h, ok, _ := Home(e.vars, e.user)
		return h, ok
	}
	v, set, known := e.vars.Get(name)
	return v, set && known
}

// word evaluates w. Only literal text, quotes and simple $VAR/${VAR} of known
// variables are resolved; anything else makes the word unknown.
func (e *expander) word(w *syntax.Word, src *source) Word {
	b := &wordBuilder{e: e, r: Word{Known: true}}
	for i, part := range w.Parts {
		b.part(part, i == 0, false)
	}
	r := b.r
	r.Val, r.Pat = b.val.String(), b.pat.String()
	r.Arg, r.node = -1, w
	if src != nil {
		place(&r, w, src)
	}
	return r
}

// place says where w, read from src, is written.
func place(r *Word, w *syntax.Word, src *source) {
	s, t := off(w.Pos()), off(w.End())
	if s > t || t > len(src.text) {
		return
	}
	r.Raw = src.text[s:t]
	if src.editable() {
		r.Arg, r.Start, r.End = src.arg, src.base+s, src.base+t
		r.gap = src.base + blankBefore(src.text, s)
		// "0 x>f" without x must not become "0>f" (fd 0).
		r.glue = t < len(src.text) && (src.text[t] == '<' || src.text[t] == '>')
		// `x#c` where the parser ends the word before the # ("" or a
		// closing parenthesis): after an edit, #c must still be a comment.
		r.hash = t < len(src.text) && src.text[t] == '#'
	}
}

// wordBuilder is a word being expanded: its value and its pattern so far.
type wordBuilder struct {
	e        *expander
	val, pat strings.Builder
	r        Word
}

// unknown says the value can't be worked out from here on.
func (b *wordBuilder) unknown() {
	if b.r.Known {
		b.r.Prefix = b.val.String()
	}
	b.r.Known = false
}

// lit adds literal text, quoted (no globbing) or not.
func (b *wordBuilder) lit(s string, quoted bool) {
	b.val.WriteString(s)
	if quoted {
		b.pat.WriteString(EscapeGlob(s))
	} else {
		b.pat.WriteString(s)
	}
}

// param adds $NAME.
func (b *wordBuilder) param(p *syntax.ParamExp, quoted bool) {
	if p.Param == nil || !simpleParam(p) {
		b.unknown()
		return
	}
	b.r.Params = append(b.r.Params, p.Param.Value)
	v, ok := b.e.lookup(p.Param.Value)
	if !ok || (!quoted && strings.ContainsAny(v, " \t\n")) {
		b.unknown()
		return
	}
	if !quoted && strings.ContainsAny(v, "*?[") {
		b.r.Glob = true
	}
	b.lit(v, quoted)
}

// part adds one part of the word: first is the word's first, quoted a
// part inside "…".
func (b *wordBuilder) part(part syntax.WordPart, first, quoted bool) {
	switch p := part.(type) {
	case *syntax.Lit:
		if quoted {
			b.lit(unescapeDouble(p.Value), true)
			return
		}
		s := p.Value
		if first && strings.HasPrefix(s, "~") {
			rest, ok := b.tilde(s)
			if !ok {
				return
			}
			s = rest
		}
		b.e.unquotedLit(s, &b.val, &b.pat, &b.r)
	case *syntax.SglQuoted:
		if p.Dollar {
			b.unknown()
			return
		}
		b.lit(p.Value, true)
	case *syntax.DblQuoted:
		if p.Dollar {
			b.unknown()
			return
		}
		for _, q := range p.Parts {
			b.part(q, false, true)
		}
	case *syntax.ParamExp:
		b.param(p, quoted)
	case *syntax.CmdSubst:
		b.r.subst = append(b.r.subst, p.Stmts...)
		b.unknown()
	default:
		b.unknown()
	}
}

// tilde expands a leading "~" (not "~name") to $HOME. It returns the rest
// of the literal still to add, and ok=false when there is none.
func (b *wordBuilder) tilde(s string) (string, bool) {
	user, rest, _ := strings.Cut(s[1:], "/")
	if user != "" {
		b.unknown() // ~name
		return "", false
	}
	h, ok := b.e.lookup("HOME")
	if !ok {
		b.r.Params = append(b.r.Params, "HOME")
		b.unknown()
		return "", false
	}
	b.lit(h, true)
	if !strings.HasPrefix(s, "~/") {
		return "", false
	}
	return "/" + rest, true
}

// unquotedLit removes backslash escapes; unescaped glob characters stay
// active in the pattern, and a bash brace expansion becomes a "*".
func (e *expander) unquotedLit(s string, val, pat *strings.Builder, r *Word) {
	if !strings.ContainsAny(s, `\*?[{`) { // most words: what the loop below would write, at once
		val.WriteString(s)
		pat.WriteString(s)
		return
	}
	braces := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			val.WriteByte(s[i])
			pat.WriteString(EscapeGlob(s[i : i+1]))
		case c == '*' || c == '?' || c == '[':
			r.Glob = true
			val.WriteByte(c)
			pat.WriteByte(c)
		case c == '{' && e.lang == syntax.LangBash && strings.ContainsAny(s[i:], ",.") && strings.Contains(s[i:], "}"):
			// {a,b} expands to several words; match it like a glob, which
			// is wider, so the checks built on it stay on the safe side.
			braces++
			r.Glob = true
			val.WriteByte(c)
			pat.WriteByte('*')
		case braces > 0:
			val.WriteByte(c)
			if c == '}' {
				braces--
			}
		default:
			val.WriteByte(c)
			pat.WriteString(EscapeGlob(s[i : i+1]))
		}
	}
}

func simpleParam(p *syntax.ParamExp) bool {
	return p.Param != nil && p.Flags == nil && !p.Excl && !p.Length && !p.Width && !p.IsSet &&
		p.NestedParam == nil && p.Index == nil && len(p.Modifiers) == 0 && p.Slice == nil &&
		p.Repl == nil && p.Names == 0 && p.Exp == nil && validName(p.Param.Value)
}

// unescapeDouble removes the backslashes that are special inside "…".
func unescapeDouble(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\", s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// validName reports whether s is a shell variable name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
