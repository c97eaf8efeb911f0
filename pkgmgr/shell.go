package pkgmgr

import (
	"path"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// POSIX-ish shells whose -c script we parse.
var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "ksh": true, "mksh": true}

// Shells we don't understand at all; a step run by one gets no plan.
var foreignShells = map[string]bool{
	"pwsh": true, "pwsh.exe": true, "powershell": true, "powershell.exe": true, "cmd": true, "cmd.exe": true,
}

// shellScript recognises ["sh", flags…, "-c", flags…, script, args…] (and
// "busybox sh …"). It returns the index of the script in args and the
// language to parse it with.
func shellScript(args []string) (idx int, lang syntax.LangVariant, ok bool) {
	if len(args) == 0 {
		return 0, 0, false
	}
	i := 1
	name := path.Base(args[0])
	if name == "busybox" && len(args) > 1 && (args[1] == "sh" || args[1] == "ash") {
		name, i = args[1], 2
	}
	if !shells[name] {
		return 0, 0, false
	}
	lang = syntax.LangPOSIX
	if name == "bash" {
		lang = syntax.LangBash
	}
	sawC := false
	for i < len(args) {
		a := args[i]
		if a == "--" || a == "-" {
			i++
			break
		}
		if len(a) < 2 || (a[0] != '-' && a[0] != '+') {
			break
		}
		if strings.HasPrefix(a, "--") { // bash long options; two take a value
			if a == "--rcfile" || a == "--init-file" {
				i++
			}
			i++
			continue
		}
		// A cluster like -ec, -exo pipefail, +o xtrace: each o/O takes the next arg.
		need := 0
		for _, ch := range a[1:] {
			switch ch {
			case 'c':
				sawC = sawC || a[0] == '-'
			case 'o', 'O':
				need++
			}
		}
		i += 1 + need
	}
	if !sawC || i >= len(args) {
		return 0, 0, false
	}
	return i, lang, true
}

// feedsShellStdin reports whether a shell command line (no -c) reads its
// script from stdin: no operand before the first non-option, or -s.
func feedsShellStdin(argv []word) bool {
	for i := 1; i < len(argv); i++ {
		a := argv[i].val
		switch {
		case !argv[i].known:
			return false
		case a == "--" || a == "-":
			return true
		case strings.HasPrefix(a, "--"): // --norc, --login, …
			if a == "--rcfile" || a == "--init-file" {
				i++
			}
		case len(a) > 1 && (a[0] == '-' || a[0] == '+'): // a cluster: -ex, -eo pipefail, -s
			if a[0] == '-' && strings.ContainsRune(a, 'c') {
				return false // -c: handled by shellScript
			}
			if a[0] == '-' && strings.ContainsRune(a, 's') {
				return true
			}
			i += strings.Count(a, "o") + strings.Count(a, "O")
		default:
			return false // a script file operand: stdin is its input, not a script
		}
	}
	return true
}

func parse(src string, lang syntax.LangVariant) (*syntax.File, syntax.LangVariant, error) {
	f, err := syntax.NewParser(syntax.Variant(lang)).Parse(strings.NewReader(src), "")
	if err == nil {
		return f, lang, nil
	}
	other := syntax.LangBash
	if lang == syntax.LangBash {
		other = syntax.LangPOSIX
	}
	if f, err2 := syntax.NewParser(syntax.Variant(other)).Parse(strings.NewReader(src), ""); err2 == nil {
		return f, other, nil
	}
	return nil, lang, err
}

// source is a script and where its bytes live: Step.Args[arg] from offset
// base, byte for byte. arg < 0 means the script was reconstructed (from a
// double-quoted string with escapes, say) and can only be read, not edited.
type source struct {
	text string
	arg  int
	base int
	lang syntax.LangVariant
}

func (s *source) editable() bool { return s.arg >= 0 }

func off(p syntax.Pos) int { return int(p.Offset()) }

// word is one argument as the command will see it, and where it is written.
type word struct {
	val    string // value after quote removal and expansions we could resolve
	pat    string // val as a path.Match pattern (unquoted globs active, quoted ones escaped)
	known  bool   // val is exact
	glob   bool   // pat has active glob characters
	prefix string // for !known: the value up to the first unknown part
	params []string
	subst  []*syntax.Stmt // statements of command substitutions in the word
	raw    string         // as written
	node   *syntax.Word   // nil in exec form

	arg        int  // Step.Args index holding it; -1: not editable
	start, end int  // byte range in Step.Args[arg]
	gap        int  // start of the blank before the word, for deletion
	glue       bool // a redirection follows right after: deleting must leave a blank
	elem       bool
}

// literalWord makes a word from an exec-form argv element.
func literalWord(s string, arg int) word {
	return word{val: s, pat: escapeGlob(s), known: true, raw: s, arg: arg, end: len(s), elem: true}
}

func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// expander resolves words against a shell's state.
type expander struct {
	vars vars
	user user
	lang syntax.LangVariant
}

// lookup gives the value of $name, or ok=false.
func (e *expander) lookup(name string) (string, bool) {
	if name == "HOME" {
		h, ok, _ := home(e.vars, e.user)
		return h, ok
	}
	v, set, known := e.vars.get(name)
	return v, set && known
}

// word evaluates w. Only literal text, quotes and simple $VAR/${VAR} of known
// variables are resolved; anything else makes the word unknown.
func (e *expander) word(w *syntax.Word, src *source) word {
	var val, pat strings.Builder
	r := word{known: true}
	unknown := func() {
		if r.known {
			r.prefix = val.String()
		}
		r.known = false
	}
	lit := func(s string, quoted bool) {
		val.WriteString(s)
		if quoted {
			pat.WriteString(escapeGlob(s))
		} else {
			pat.WriteString(s)
		}
	}
	var param func(p *syntax.ParamExp, quoted bool)
	param = func(p *syntax.ParamExp, quoted bool) {
		if p.Param == nil || !simpleParam(p) {
			unknown()
			return
		}
		r.params = append(r.params, p.Param.Value)
		v, ok := e.lookup(p.Param.Value)
		if !ok || (!quoted && strings.ContainsAny(v, " \t\n")) {
			unknown()
			return
		}
		if !quoted && strings.ContainsAny(v, "*?[") {
			r.glob = true
		}
		lit(v, quoted)
	}
	for i, part := range w.Parts {
		switch p := part.(type) {
		case *syntax.Lit:
			s := p.Value
			if i == 0 && strings.HasPrefix(s, "~") {
				user, rest, _ := strings.Cut(s[1:], "/")
				if user != "" {
					unknown() // ~name
					continue
				}
				h, ok := e.lookup("HOME")
				if !ok {
					r.params = append(r.params, "HOME")
					unknown()
					continue
				}
				lit(h, true)
				if !strings.HasPrefix(s, "~/") {
					continue
				}
				s = "/" + rest
			}
			e.unquotedLit(s, &val, &pat, &r)
		case *syntax.SglQuoted:
			if p.Dollar {
				unknown()
				continue
			}
			lit(p.Value, true)
		case *syntax.DblQuoted:
			if p.Dollar {
				unknown()
				continue
			}
			for _, q := range p.Parts {
				switch q := q.(type) {
				case *syntax.Lit:
					lit(unescapeDouble(q.Value), true)
				case *syntax.ParamExp:
					param(q, true)
				case *syntax.CmdSubst:
					r.subst = append(r.subst, q.Stmts...)
					unknown()
				default:
					unknown()
				}
			}
		case *syntax.ParamExp:
			param(p, false)
		case *syntax.CmdSubst:
			r.subst = append(r.subst, p.Stmts...)
			unknown()
		default:
			unknown()
		}
	}
	r.val, r.pat = val.String(), pat.String()
	r.arg, r.node = -1, w
	if src != nil {
		s, t := off(w.Pos()), off(w.End())
		if s <= t && t <= len(src.text) {
			r.raw = src.text[s:t]
			if src.editable() {
				r.arg, r.start, r.end = src.arg, src.base+s, src.base+t
				r.gap = src.base + blankBefore(src.text, s)
				// "0 x>f" without x must not become "0>f" (fd 0).
				r.glue = t < len(src.text) && (src.text[t] == '<' || src.text[t] == '>')
			}
		}
	}
	return r
}

// unquotedLit removes backslash escapes; unescaped glob characters stay
// active in the pattern, and a bash brace expansion becomes a "*".
func (e *expander) unquotedLit(s string, val, pat *strings.Builder, r *word) {
	braces := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			val.WriteByte(s[i])
			pat.WriteString(escapeGlob(s[i : i+1]))
		case c == '*' || c == '?' || c == '[':
			r.glob = true
			val.WriteByte(c)
			pat.WriteByte(c)
		case c == '{' && e.lang == syntax.LangBash && strings.ContainsAny(s[i:], ",.") && strings.Contains(s[i:], "}"):
			// {a,b} expands to several words; match it like a glob, which
			// is wider, so the checks built on it stay on the safe side.
			braces++
			r.glob = true
			val.WriteByte(c)
			pat.WriteByte('*')
		case braces > 0:
			val.WriteByte(c)
			if c == '}' {
				braces--
			}
		default:
			val.WriteByte(c)
			pat.WriteString(escapeGlob(s[i : i+1]))
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

// blankBefore finds where the run of blanks (and line continuations) that
// ends at offset i starts.
func blankBefore(s string, i int) int {
	for i > 0 {
		switch {
		case s[i-1] == ' ' || s[i-1] == '\t':
			i--
		case s[i-1] == '\n' && i >= 2 && s[i-2] == '\\':
			i -= 2
		default:
			return i
		}
	}
	return i
}

// blankAfter finds where the run of blanks (and line continuations) that
// starts at offset i ends.
func blankAfter(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == ' ' || s[i] == '\t':
			i++
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i += 2
		default:
			return i
		}
	}
	return i
}

// innerScript works out the script a shell gets from a -c word: its text,
// and, when the bytes inside the quotes are exactly that text, where they
// are (so edits can go there).
func innerScript(w *syntax.Word, src *source, lang syntax.LangVariant) *source {
	s := &source{arg: -1, lang: lang}
	if len(w.Parts) == 1 {
		a, b := off(w.Pos()), off(w.End())
		inner := ""
		exact := false
		switch p := w.Parts[0].(type) {
		case *syntax.SglQuoted:
			if !p.Dollar {
				a, b = a+1, b-1
				inner, exact = p.Value, true
			}
		case *syntax.DblQuoted:
			if !p.Dollar && len(p.Parts) <= 1 {
				a, b = a+1, b-1
				if len(p.Parts) == 0 {
					exact = true
				} else if l, ok := p.Parts[0].(*syntax.Lit); ok {
					inner, exact = l.Value, !strings.ContainsAny(l.Value, "\\$`")
				}
			}
		case *syntax.Lit:
			inner, exact = p.Value, !strings.ContainsAny(p.Value, "\\$`")
		}
		if exact && 0 <= a && a <= b && b <= len(src.text) && src.text[a:b] == inner {
			s.text = inner
			if src.editable() {
				s.arg, s.base = src.arg, src.base+a
			}
			return s
		}
	}
	// Read-only approximation: quote removal, expansions left as written.
	var b strings.Builder
	for _, part := range w.Parts {
		switch p := part.(type) {
		case *syntax.SglQuoted:
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			x, y := off(p.Pos())+1, off(p.End())-1
			if p.Dollar {
				x++
			}
			if 0 <= x && x <= y && y <= len(src.text) {
				b.WriteString(unescapeDouble(src.text[x:y]))
			}
		case *syntax.Lit:
			b.WriteString(p.Value)
		default:
			x, y := off(p.Pos()), off(p.End())
			if 0 <= x && x <= y && y <= len(src.text) {
				b.WriteString(src.text[x:y])
			}
		}
	}
	s.text = b.String()
	return s
}

// heredocScript is the script a shell reads from a here-document. It is
// editable when the body is taken literally (quoted delimiter, or nothing
// to expand) and has no tab stripping (<<-) that would shift bytes.
func heredocScript(r *syntax.Redirect, src *source, lang syntax.LangVariant) *source {
	s := &source{arg: -1, lang: lang}
	if r.Hdoc == nil || len(r.Hdoc.Parts) == 0 {
		return s
	}
	a, b := off(r.Hdoc.Pos()), off(r.Hdoc.End())
	if a < 0 || b > len(src.text) || a > b {
		return s
	}
	body := src.text[a:b]
	// Drop the delimiter line the node's range includes.
	if i := strings.LastIndexByte(body, '\n'); i >= 0 {
		body = body[:i+1]
	} else {
		body = ""
	}
	if l, ok := r.Hdoc.Parts[0].(*syntax.Lit); ok && len(r.Hdoc.Parts) == 1 && l.Value == body &&
		(quotedDelim(r.Word) || !strings.ContainsAny(body, "\\$`")) {
		s.text = body
		if src.editable() {
			s.arg, s.base = src.arg, src.base+a
		}
		return s
	}
	s.text = body
	return s
}

func quotedDelim(w *syntax.Word) bool {
	if w == nil {
		return false
	}
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.Lit:
			if strings.Contains(p.Value, `\`) {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// oneLine squeezes a command's source into a short single line for notes.
func oneLine(s string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] == '\n' {
			i++
			space = true
			continue
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(c)
	}
	out := b.String()
	if len(out) > 72 {
		out = out[:69] + "..."
	}
	return out
}
