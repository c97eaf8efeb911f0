// Package shell reads what a build step's argv will run: it parses the
// shell scripts in it with mvdan.cc/sh/v3 (trying POSIX, then bash), walks
// them in execution order with what each command sees (environment, user,
// working directory), expands the words it can, takes wrappers (env, sudo,
// timeout, …) off, and says where each word and assignment is written, so
// that an Edit can splice the argv at byte offsets and leave the rest of
// it byte for byte the same. It knows nothing of package managers.
package shell

import (
	"path"
	"strings"
	"sync"

	"mvdan.cc/sh/v3/syntax"
)

// POSIX-ish shells whose -c script we parse.
var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "ksh": true, "mksh": true}

// Shells we don't understand at all; a step run by one gets no plan.
var foreignShells = map[string]bool{
	"pwsh": true, "pwsh.exe": true, "powershell": true, "powershell.exe": true, "cmd": true, "cmd.exe": true,
}

// IsShell reports whether name (a basename) is a POSIX-ish shell whose -c
// script is parsed.
func IsShell(name string) bool { return shells[name] }

// Foreign reports whether a step run by program (its argv[0]) runs a shell
// that is not understood at all (PowerShell, cmd).
func Foreign(program string) bool { return foreignShells[path.Base(program)] }

// ScriptArg recognises ["sh", flags…, "-c", flags…, script, args…] (and
// "busybox sh …"). It returns the index of the script in args and the
// language to parse it with.
func ScriptArg(args []string) (idx int, lang syntax.LangVariant, ok bool) {
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
func feedsShellStdin(argv []Word) bool {
	for i := 1; i < len(argv); i++ {
		a := argv[i].Val
		switch {
		case !argv[i].Known:
			return false
		case a == "--" || a == "-":
			return true
		case strings.HasPrefix(a, "--"): // --norc, --login, …
			if a == "--rcfile" || a == "--init-file" {
				i++
			}
		case len(a) > 1 && (a[0] == '-' || a[0] == '+'): // a cluster: -ex, -eo pipefail, -s
			if a[0] == '-' && strings.ContainsRune(a, 'c') {
				return false // -c: handled by ScriptArg
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

func Parse(src string, lang syntax.LangVariant) (*syntax.File, syntax.LangVariant, error) {
	f, err := parse(src, lang)
	if err == nil {
		return f, lang, nil
	}
	other := syntax.LangBash
	if lang == syntax.LangBash {
		other = syntax.LangPOSIX
	}
	if f, err2 := parse(src, other); err2 == nil {
		return f, other, nil
	}
	return nil, lang, err
}

// parsers keeps a syntax.Parser per language for reuse (LangVariant →
// *sync.Pool): a new one is large, and a transform parses every step.
var parsers sync.Map

func parse(src string, lang syntax.LangVariant) (*syntax.File, error) {
	pool, _ := parsers.LoadOrStore(lang, &sync.Pool{})
	p, _ := pool.(*sync.Pool).Get().(*syntax.Parser)
	if p == nil {
		p = syntax.NewParser(syntax.Variant(lang))
	}
	defer pool.(*sync.Pool).Put(p)
	return p.Parse(strings.NewReader(src), "")
}

// source is a script and where its bytes live: argv[arg] from offset
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

// blankBefore finds where the run of blanks (and line continuations) that
// ends at offset i starts. An escaped blank (`a\ `) is the word's before it.
func blankBefore(s string, i int) int {
	for i > 0 {
		switch {
		case (s[i-1] == ' ' || s[i-1] == '\t') && !escaped(s, i-1):
			i--
		case s[i-1] == '\n' && i >= 2 && s[i-2] == '\\' && !escaped(s, i-2):
			i -= 2
		default:
			return i
		}
	}
	return i
}

// escaped says whether the byte at i follows an odd number of backslashes.
func escaped(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
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

// OneLine squeezes a command's source into a short single line for notes.
func OneLine(s string) string {
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
