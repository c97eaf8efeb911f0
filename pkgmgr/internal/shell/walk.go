package shell

import (
	"maps"
	"path"
	"slices"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Walked is what a step's argv will run.
type Walked struct {
	Commands []*Command               // simple commands, wrappers taken off, in the order they run
	Sites    map[string][]*AssignSite // assignment statements of the scripts, by variable
	Notes    []string                 // scripts that could not be parsed
	scripts  map[int]syntax.LangVariant
}

// Walk reads what args will run, given the environment (KEY=VALUE, a later
// entry wins), the user ("" = root) and the working directory ("" = "/")
// it starts with.
func Walk(args, env []string, user, cwd string) *Walked {
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		cwd = ""
	}
	st := &state{vars: EnvVars(env), user: ParseUser(user), cwd: cwd, goenv: Vars{}}
	words := make([]Word, len(args))
	for i, x := range args {
		words[i] = literalWord(x, i)
	}
	w := &walker{sites: map[string][]*AssignSite{}}
	cmd := &Command{Env: st.vars.Exported(), User: st.user, Cwd: cwd, GoEnv: Vars{},
		Raw: strings.Join(args, " "), Whole: &Edit{All: true}}
	w.run(cmd, words, nil, st, nil)
	r := &Walked{Commands: w.cmds, Sites: w.sites, Notes: w.notes, scripts: map[int]syntax.LangVariant{}}
	for _, sc := range w.scripts {
		if sc.editable() && sc.base == 0 && sc.arg < len(args) && sc.text == args[sc.arg] {
			r.scripts[sc.arg] = sc.lang
		}
	}
	return r
}

// Reparse checks that the scripts of args (whole argv elements) that
// edited changes still parse: the tests' check of every plan.
func (r *Walked) Reparse(args, edited []string) error {
	for _, i := range slices.Sorted(maps.Keys(r.scripts)) {
		if i < len(edited) && edited[i] != args[i] {
			if _, _, err := Parse(edited[i], r.scripts[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Command is one simple command that will run in the step, with wrappers
// (env, sudo, timeout, …) and leading assignments taken off.
type Command struct {
	Seq    int
	Argv   []Word // argv[0] is the program
	Name   string // basename of argv[0], "" if unknown
	Env    Vars   // its environment
	Inline []*AssignSite
	User   User
	Cwd    string
	GoEnv  Vars   // `go env -w` settings seen so far; shared, read only
	Raw    string // source, for notes
	Whole  *Edit  // replaces the whole command with `true`; nil if it can't be edited
	shared bool   // Env is other commands' too: writableEnv copies it first
}

// writableEnv is the command's Env, its own to change.
func (c *Command) writableEnv() Vars {
	if c.shared {
		c.Env, c.shared = c.Env.Clone(), false
	}
	return c.Env
}

// state is what a shell knows at one point of a script.
type state struct {
	vars  Vars
	exp   Vars // vars.Exported(), shared by the commands that see it; nil after vars change
	user  User
	cwd   string // "" unknown
	goenv Vars
}

func (s *state) clone() *state {
	return &state{vars: s.vars.Clone(), user: s.user, cwd: s.cwd, goenv: s.goenv} // goenv: copied where it changes
}

// walker collects the commands of a step in execution (= source) order.
type walker struct {
	cmds    []*Command
	notes   []string
	depth   int
	sites   map[string][]*AssignSite // assignment statements, by variable
	scripts []*source                // every script parsed
}

const maxDepth = 8

// script walks a whole script.
func (w *walker) script(src *source, st *state) {
	if w.depth >= maxDepth {
		return
	}
	f, lang, err := Parse(src.text, src.lang)
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
			st.vars[it.Name.Value] = Value{Exported: st.vars[it.Name.Value].Exported}
			st.exp = nil
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

func (w *walker) call(c *syntax.CallExpr, s *syntax.Stmt, src *source, st *state) {
	w.substs(c, src, st)
	if len(c.Args) == 0 { // A=1 B=2: shell variables
		sites := w.stmtAssignSites(c, src)
		for i, a := range c.Assigns {
			w.assign(a, src, st, false, sites[i])
		}
		return
	}
	e := w.exp(st, src)
	words := make([]Word, len(c.Args))
	for i, a := range c.Args {
		words[i] = e.word(a, src)
	}
	// Commands share the environment snapshot until one changes its own.
	if st.exp == nil {
		st.exp = st.vars.Exported()
	}
	env, shared := st.exp, true
	var inline []*AssignSite
	for _, a := range c.Assigns {
		if a.Name == nil {
			continue
		}
		site := &AssignSite{Name: a.Name.Value, Raw: src.text[off(a.Pos()):off(a.End())]}
		if !reservedAfterAssigns(c.Args[0]) {
			site.Del = src.replace(off(a.Pos()), blankAfter(src.text, off(a.End())), "")
		}
		inline = append(inline, site)
		v := Value{Exported: true, Site: site, Known: a.Value == nil}
		if a.Value != nil {
			x := e.word(a.Value, src)
			v.Val, v.Known = x.Val, x.Known && !x.Glob
		}
		if shared {
			env, shared = env.Clone(), false
		}
		env[a.Name.Value] = v
	}
	cmd := &Command{Env: env, shared: shared, Inline: inline, User: st.user, Cwd: st.cwd, GoEnv: st.goenv}
	cmd.Raw = src.text[off(c.Pos()):off(c.End())]
	if src.editable() {
		cmd.Whole = w.wholeEdit(c, s, src)
	}
	if !w.builtin(words, cmd.Whole, st) {
		w.run(cmd, words, src, st, s)
	}
}

// builtin applies the shell builtins that change what later commands see.
// It reports whether the command was only that (nothing to run).
func (w *walker) builtin(words []Word, whole *Edit, st *state) bool {
	if !words[0].Known {
		return false
	}
	switch words[0].Val {
	case "export", "readonly": // how the POSIX parser gives `export A=1 B`
		var dels []*Edit
		for _, x := range words[1:] {
			if e := w.exportWord(x, words[0].Val == "export", len(words) == 2, whole, st); e != nil {
				dels = append(dels, e)
			}
		}
		if len(dels) > 1 && len(dels) == len(words)-1 && whole != nil {
			group(whole, dels...) // a bare `export` would list the environment
		}
		return true
	case "unset":
		for _, x := range words[1:] {
			delete(st.vars, x.Val)
			st.exp = nil
		}
		return true
	case "cd":
		st.cwd = cdTarget(words, st)
	case "pushd", "popd":
		st.cwd = ""
	}
	return false
}

func cdTarget(words []Word, st *state) string {
	if len(words) == 1 {
		if h, ok, _ := Home(st.vars, st.user); ok {
			return h
		}
		return ""
	}
	d := words[1]
	switch {
	case !d.Known || d.Glob || d.Val == "-":
		return ""
	case path.IsAbs(d.Val):
		return path.Clean(d.Val)
	case st.cwd != "":
		return path.Join(st.cwd, d.Val)
	}
	return ""
}

// run strips wrappers and records the command; a shell with a script
// (-c or a here-document) is walked too.
func (w *walker) run(cmd *Command, words []Word, src *source, st *state, s *syntax.Stmt) {
	argv, ok := unwrap(cmd, words)
	if !ok || len(argv) == 0 {
		return
	}
	cmd.Argv = argv
	if argv[0].Known {
		cmd.Name = path.Base(argv[0].Val)
	} else if i := strings.LastIndexByte(argv[0].Raw, '/'); i >= 0 && !strings.ContainsAny(argv[0].Raw[i:], "$`\"'") {
		cmd.Name = argv[0].Raw[i+1:] // "$VENV/bin/pip"
	}
	cmd.Seq = len(w.cmds)
	w.cmds = append(w.cmds, cmd)
	w.goEnv(cmd, st)

	if cmd.Name == "busybox" && len(argv) > 1 && (argv[1].Val == "sh" || argv[1].Val == "ash") {
		argv = argv[1:]
	}
	if len(argv) == 0 || !argv[0].Known || !shells[path.Base(argv[0].Val)] {
		return
	}
	inner := &state{vars: cmd.Env.Clone(), user: cmd.User, cwd: cmd.Cwd, goenv: cmd.GoEnv}
	lang := syntax.LangPOSIX
	if path.Base(argv[0].Val) == "bash" {
		lang = syntax.LangBash
	}
	vals := make([]string, len(argv))
	for i, a := range argv {
		vals[i] = a.Val
		if !a.Known {
			vals[i] = "\x00" // never a flag
		}
	}
	if i, _, ok := ScriptArg(vals); ok {
		a := argv[i]
		var sub *source
		if a.node != nil {
			sub = innerScript(a.node, src, lang)
		} else if a.Known {
			// exec form: the argv element is the script, byte for byte
			sub = &source{text: a.Val, arg: a.Arg, lang: lang}
			if !a.Elem {
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

// goEnv tracks `go env -w K=V` / `go env -u K`: later go commands read them
// from the go env file, below the process environment.
func (w *walker) goEnv(cmd *Command, st *state) {
	if cmd.Name != "go" || len(cmd.Argv) < 3 || cmd.Argv[1].Val != "env" {
		return
	}
	mode := ""
	// goenv is shared with the commands and states that saw it: this is the
	// one place it changes, on a copy.
	st.goenv = st.goenv.Clone()
	for _, a := range cmd.Argv[2:] {
		switch {
		case a.Val == "-w" || a.Val == "-u":
			mode = a.Val
		case strings.HasPrefix(a.Val, "-"):
		case mode == "-w":
			if name, val, ok := assignWord(a); ok {
				st.goenv[name] = Value{Val: val, Known: a.Known && !a.Glob, Exported: true}
			}
		case mode == "-u":
			delete(st.goenv, a.Val)
		}
	}
}
