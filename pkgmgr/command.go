package pkgmgr

import (
	"path"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// command is one simple command that will run in the step, with wrappers
// (env, sudo, timeout, …) and leading assignments taken off.
type command struct {
	seq    int
	argv   []word // argv[0] is the program
	name   string // basename of argv[0], "" if unknown
	env    vars   // its environment
	inline []*assignSite
	user   user
	cwd    string
	goenv  vars   // `go env -w` settings seen so far
	raw    string // source, for notes
	whole  *edit  // replaces the whole command with `true`; nil if it can't be edited
}

// assignSite is where a variable was set in the script, and how to undo it.
type assignSite struct {
	name string
	raw  string // as written, for notes
	del  *edit  // nil: can't be edited
}

// state is what a shell knows at one point of a script.
type state struct {
	vars  vars
	user  user
	cwd   string // "" unknown
	goenv vars
}

func (s *state) clone() *state {
	return &state{vars: s.vars.clone(), user: s.user, cwd: s.cwd, goenv: s.goenv.clone()}
}

// walker collects the commands of a step in execution (= source) order.
type walker struct {
	cmds    []*command
	notes   []string
	depth   int
	sites   map[string][]*assignSite // assignment statements, by variable
	scripts []*source                // every script parsed
}

const maxDepth = 8

// script walks a whole script.
func (w *walker) script(src *source, st *state) {
	if w.depth >= maxDepth {
		return
	}
	f, lang, err := parse(src.text, src.lang)
	if err != nil {
		what := "script"
		if w.depth > 0 {
			what = "nested script"
		}
		w.notes = append(w.notes, "shell: can't parse "+what+": "+err.Error())
		return
	}
	src.lang = lang
	w.scripts = append(w.scripts, src)
	w.depth++
	w.stmts(f.Stmts, src, st)
	w.depth--
}

func (w *walker) stmts(list []*syntax.Stmt, src *source, st *state) {
	for _, s := range list {
		w.stmt(s, src, st)
	}
}

func (w *walker) stmt(s *syntax.Stmt, src *source, st *state) {
	switch c := s.Cmd.(type) {
	case *syntax.CallExpr:
		w.call(c, s, src, st)
	case *syntax.BinaryCmd:
		if c.Op == syntax.Pipe || c.Op == syntax.PipeAll {
			w.stmt(c.X, src, st.clone())
			w.stmt(c.Y, src, st.clone())
		} else {
			w.stmt(c.X, src, st)
			w.stmt(c.Y, src, st)
		}
	case *syntax.Subshell:
		w.stmts(c.Stmts, src, st.clone())
	case *syntax.Block:
		w.stmts(c.Stmts, src, st)
	case *syntax.IfClause:
		for ic := c; ic != nil; ic = ic.Else {
			w.stmts(ic.Cond, src, st)
			w.stmts(ic.Then, src, st)
		}
	case *syntax.WhileClause:
		w.stmts(c.Cond, src, st)
		w.stmts(c.Do, src, st)
	case *syntax.ForClause:
		w.substs(c.Loop, src, st)
		if it, ok := c.Loop.(*syntax.WordIter); ok {
			st.vars[it.Name.Value] = value{exported: st.vars[it.Name.Value].exported}
		}
		w.stmts(c.Do, src, st)
	case *syntax.CaseClause:
		w.substs(c.Word, src, st)
		for _, it := range c.Items {
			w.stmts(it.Stmts, src, st)
		}
	case *syntax.FuncDecl:
		w.stmt(c.Body, src, st.clone())
	case *syntax.DeclClause:
		w.decl(c, src, st)
	case *syntax.TimeClause:
		if c.Stmt != nil {
			w.stmt(c.Stmt, src, st)
		}
	case *syntax.CoprocClause:
		w.stmt(c.Stmt, src, st.clone())
	case nil:
	default: // let, ((…)), [[…]]: only their command substitutions run commands
		w.substs(c, src, st)
	}
	for _, r := range s.Redirs {
		if r.Word != nil {
			w.substs(r.Word, src, st)
		}
		if r.Hdoc != nil { // $(…) in an unquoted here-document runs too
			w.substs(r.Hdoc, src, st)
		}
	}
}

// substs walks the command substitutions inside a node, each in a subshell.
func (w *walker) substs(n syntax.Node, src *source, st *state) {
	if n == nil {
		return
	}
	syntax.Walk(n, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.CmdSubst:
			w.stmts(n.Stmts, src, st.clone())
			return false
		case *syntax.ProcSubst:
			w.stmts(n.Stmts, src, st.clone())
			return false
		}
		return true
	})
}

func (w *walker) exp(st *state, src *source) *expander {
	return &expander{vars: st.vars, user: st.user, lang: src.lang}
}

// assign records VAR=value in the shell (export marks it for commands).
func (w *walker) assign(a *syntax.Assign, src *source, st *state, export bool, site *assignSite) {
	if a.Name == nil || !validName(a.Name.Value) {
		return
	}
	name := a.Name.Value
	if site != nil && !a.Naked {
		w.sites[name] = append(w.sites[name], site)
	}
	old := st.vars[name]
	v := value{exported: old.exported || export, site: site}
	switch {
	case a.Naked: // `export NAME`: an unset name stays out of the environment
		if !hasVar(st.vars, name) {
			return
		}
		v.val, v.known, v.site = old.val, old.known, old.site
	case a.Append || a.Array != nil || a.Index != nil:
	case a.Value == nil:
		v.known = true
	default:
		x := w.exp(st, src).word(a.Value, src)
		v.val, v.known = x.val, x.known && !x.glob
	}
	st.vars[name] = v
}

func hasVar(v vars, name string) bool { _, ok := v[name]; return ok }

// decl handles bash's `export A=1 B`, `declare -x …`, `local …`.
func (w *walker) decl(d *syntax.DeclClause, src *source, st *state) {
	w.substs(d, src, st)
	export := d.Variant.Value == "export"
	for _, a := range d.Args {
		if a.Name == nil {
			if a.Value != nil && a.Value.Lit() == "-x" && d.Variant.Value == "declare" {
				export = true
			}
			continue
		}
		w.assign(a, src, st, export, w.declSite(d, a, src))
	}
}

// declSite is how to remove one assignment of `export A=1 B=2`.
func (w *walker) declSite(d *syntax.DeclClause, a *syntax.Assign, src *source) *assignSite {
	site := &assignSite{name: a.Name.Value, raw: src.text[off(a.Pos()):off(a.End())]}
	if !src.editable() || a.Naked {
		return site
	}
	if len(d.Args) == 1 {
		site.del = src.replace(off(d.Pos()), off(d.End()), "true")
	} else {
		site.del = src.replace(blankBefore(src.text, off(a.Pos())), off(a.End()), "")
	}
	return site
}

// replace builds an edit of src's bytes [a,b).
func (src *source) replace(a, b int, repl string) *edit {
	if !src.editable() {
		return nil
	}
	return &edit{arg: src.arg, start: src.base + a, end: src.base + b, repl: repl}
}

func (w *walker) call(c *syntax.CallExpr, s *syntax.Stmt, src *source, st *state) {
	w.substs(c, src, st)
	if len(c.Args) == 0 { // A=1 B=2: shell variables
		for i, a := range c.Assigns {
			w.assign(a, src, st, false, w.stmtAssignSite(c, i, src))
		}
		return
	}
	e := w.exp(st, src)
	words := make([]word, len(c.Args))
	for i, a := range c.Args {
		words[i] = e.word(a, src)
	}
	env := st.vars.exported()
	var inline []*assignSite
	for _, a := range c.Assigns {
		if a.Name == nil {
			continue
		}
		site := &assignSite{name: a.Name.Value, raw: src.text[off(a.Pos()):off(a.End())]}
		if !reservedAfterAssigns(c.Args[0]) {
			site.del = src.replace(off(a.Pos()), blankAfter(src.text, off(a.End())), "")
		}
		inline = append(inline, site)
		v := value{exported: true, site: site, known: a.Value == nil}
		if a.Value != nil {
			x := e.word(a.Value, src)
			v.val, v.known = x.val, x.known && !x.glob
		}
		env[a.Name.Value] = v
	}
	cmd := &command{env: env, inline: inline, user: st.user, cwd: st.cwd, goenv: st.goenv.clone()}
	cmd.raw = src.text[off(c.Pos()):off(c.End())]
	if src.editable() {
		cmd.whole = w.wholeEdit(c, s, src)
	}
	if !w.builtin(words, cmd.whole, st) {
		w.run(cmd, words, src, st, s)
	}
}

// reservedAfterAssigns reports whether a command word would turn into
// syntax (`!`, `{`, `time`, `let`…) once the assignments before it go.
func reservedAfterAssigns(w *syntax.Word) bool {
	l := w.Lit()
	switch l {
	case "declare", "export", "local", "readonly", "typeset", "nameref", "let":
		return true
	}
	return syntax.IsKeyword(l) || strings.HasPrefix(l, "((") // a quoted or expanded word never is
}

// stmtAssignSite is how to remove assignment i of a bare `A=1 B=2` statement.
func (w *walker) stmtAssignSite(c *syntax.CallExpr, i int, src *source) *assignSite {
	a := c.Assigns[i]
	site := &assignSite{name: a.Name.Value, raw: src.text[off(a.Pos()):off(a.End())]}
	switch {
	case !src.editable():
	case len(c.Assigns) == 1:
		site.del = src.replace(off(c.Pos()), off(c.End()), "true")
	case i == 0:
		site.del = src.replace(off(a.Pos()), blankAfter(src.text, off(a.End())), "")
	default:
		site.del = src.replace(blankBefore(src.text, off(a.Pos())), off(a.End()), "")
	}
	return site
}

// wholeEdit replaces a simple command by `true`, keeping redirections that
// sit inside it (they may create files).
func (w *walker) wholeEdit(c *syntax.CallExpr, s *syntax.Stmt, src *source) *edit {
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

// builtin applies the shell builtins that change what later commands see.
// It reports whether the command was only that (nothing to run).
func (w *walker) builtin(words []word, whole *edit, st *state) bool {
	if !words[0].known {
		return false
	}
	switch words[0].val {
	case "export", "readonly": // how the POSIX parser gives `export A=1 B`
		for _, x := range words[1:] {
			w.exportWord(x, words[0].val == "export", len(words) == 2, whole, st)
		}
		return true
	case "unset":
		for _, x := range words[1:] {
			delete(st.vars, x.val)
		}
		return true
	case "cd":
		st.cwd = cdTarget(words, st)
	case "pushd", "popd":
		st.cwd = ""
	}
	return false
}

func (w *walker) exportWord(x word, export, only bool, whole *edit, st *state) {
	text := x.val
	if !x.known {
		text = x.prefix
	}
	name, val, hasVal := strings.Cut(text, "=")
	if !validName(name) {
		return
	}
	v := st.vars[name]
	v.exported = v.exported || export
	switch {
	case hasVal:
		v.val, v.known, v.site = val, x.known && !x.glob, &assignSite{name: name, raw: x.raw}
		if only {
			v.site.del = whole
		} else {
			v.site.del = wordDel(x)
		}
		w.sites[name] = append(w.sites[name], v.site)
	case !hasVar(st.vars, name):
		return // exporting an unset name: still unset
	}
	st.vars[name] = v
}

func cdTarget(words []word, st *state) string {
	if len(words) == 1 {
		if h, ok, _ := home(st.vars, st.user); ok {
			return h
		}
		return ""
	}
	d := words[1]
	switch {
	case !d.known || d.glob || d.val == "-":
		return ""
	case path.IsAbs(d.val):
		return path.Clean(d.val)
	case st.cwd != "":
		return path.Join(st.cwd, d.val)
	}
	return ""
}

// wordDel is the edit that removes one word.
func wordDel(x word) *edit {
	switch {
	case x.arg < 0:
		return nil
	case x.elem:
		return &edit{arg: x.arg, elem: true}
	}
	if x.glue {
		return &edit{arg: x.arg, start: x.gap, end: x.end, repl: " "}
	}
	return &edit{arg: x.arg, start: x.gap, end: x.end}
}

// wordReplace is the edit that writes text, as is, in place of one word
// (in exec form the element becomes text: one argv element).
func wordReplace(x word, text string) *edit {
	if x.arg < 0 {
		return nil
	}
	return &edit{arg: x.arg, start: x.start, end: x.end, repl: text}
}

// insertAfter is the edit that adds " text" right after a word of a shell
// script (a flag after the program name, say). An exec-form argv element
// can't grow into two, so that gives nil.
func insertAfter(x word, text string) *edit {
	if x.arg < 0 || x.elem {
		return nil
	}
	return &edit{arg: x.arg, start: x.end, end: x.end, repl: " " + text}
}

// run strips wrappers and records the command; a shell with a script
// (-c or a here-document) is walked too.
func (w *walker) run(cmd *command, words []word, src *source, st *state, s *syntax.Stmt) {
	argv, ok := unwrap(cmd, words)
	if !ok || len(argv) == 0 {
		return
	}
	cmd.argv = argv
	if argv[0].known {
		cmd.name = path.Base(argv[0].val)
	} else if i := strings.LastIndexByte(argv[0].raw, '/'); i >= 0 && !strings.ContainsAny(argv[0].raw[i:], "$`\"'") {
		cmd.name = argv[0].raw[i+1:] // "$VENV/bin/pip"
	}
	cmd.seq = len(w.cmds)
	w.cmds = append(w.cmds, cmd)
	w.goEnv(cmd, st)

	if cmd.name == "busybox" && len(argv) > 1 && (argv[1].val == "sh" || argv[1].val == "ash") {
		argv = argv[1:]
	}
	if len(argv) == 0 || !argv[0].known || !shells[path.Base(argv[0].val)] {
		return
	}
	inner := &state{vars: cmd.env.clone(), user: cmd.user, cwd: cmd.cwd, goenv: cmd.goenv.clone()}
	lang := syntax.LangPOSIX
	if path.Base(argv[0].val) == "bash" {
		lang = syntax.LangBash
	}
	vals := make([]string, len(argv))
	for i, a := range argv {
		vals[i] = a.val
		if !a.known {
			vals[i] = "\x00" // never a flag
		}
	}
	if i, _, ok := shellScript(vals); ok {
		a := argv[i]
		var sub *source
		if a.node != nil {
			sub = innerScript(a.node, src, lang)
		} else if a.known {
			// exec form: the argv element is the script, byte for byte
			sub = &source{text: a.val, arg: a.arg, lang: lang}
			if !a.elem {
				sub.arg = -1
			}
		}
		if sub != nil {
			w.script(sub, inner)
		}
		return
	}
	if s == nil || !feedsShellStdin(argv) {
		return
	}
	for _, r := range s.Redirs {
		if (r.Op == syntax.Hdoc || r.Op == syntax.DashHdoc) && (r.N == nil || r.N.Value == "0") {
			w.script(heredocScript(r, src, lang), inner)
		}
	}
}
