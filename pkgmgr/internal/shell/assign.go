package shell

import (
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// AssignSite is where a variable was set in the script, and how to undo it.
type AssignSite struct {
	Name string
	Raw  string // as written, for notes
	Del  *Edit  // nil: can't be edited
}

// assign records VAR=value in the shell (export marks it for commands).
func (w *walker) assign(a *syntax.Assign, src *source, st *state, export bool, site *AssignSite) {
	if a.Name == nil || !validName(a.Name.Value) {
		return
	}
	name := a.Name.Value
	if site != nil && !a.Naked {
		w.sites[name] = append(w.sites[name], site)
	}
	old := st.vars[name]
	v := Value{Exported: old.Exported || export, Site: site}
	switch {
	case a.Naked: // `export NAME`: an unset name stays out of the environment
		if !hasVar(st.vars, name) {
			return
		}
		v.Val, v.Known, v.Site = old.Val, old.Known, old.Site
	case a.Append || a.Array != nil || a.Index != nil:
	case a.Value == nil:
		v.Known = true
	default:
		x := w.exp(st, src).word(a.Value, src)
		v.Val, v.Known = x.Val, x.Known && !x.Glob
	}
	st.vars[name] = v
}

func hasVar(v Vars, name string) bool { _, ok := v[name]; return ok }

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
func (w *walker) declSite(d *syntax.DeclClause, a *syntax.Assign, src *source) *AssignSite {
	site := &AssignSite{Name: a.Name.Value, Raw: src.text[off(a.Pos()):off(a.End())]}
	if !src.editable() || a.Naked {
		return site
	}
	if len(d.Args) == 1 {
		site.Del = src.replace(off(d.Pos()), off(d.End()), "true")
	} else {
		site.Del = src.replace(blankBefore(src.text, off(a.Pos())), off(a.End()), "")
	}
	return site
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
func (w *walker) stmtAssignSite(c *syntax.CallExpr, i int, src *source) *AssignSite {
	a := c.Assigns[i]
	site := &AssignSite{Name: a.Name.Value, Raw: src.text[off(a.Pos()):off(a.End())]}
	switch {
	case !src.editable():
	case len(c.Assigns) == 1:
		site.Del = src.replace(off(c.Pos()), off(c.End()), "true")
	case i == 0:
		site.Del = src.replace(off(a.Pos()), blankAfter(src.text, off(a.End())), "")
	default:
		site.Del = src.replace(blankBefore(src.text, off(a.Pos())), off(a.End()), "")
	}
	return site
}

func (w *walker) exportWord(x Word, export, only bool, whole *Edit, st *state) {
	text := x.Val
	if !x.Known {
		text = x.Prefix
	}
	name, val, hasVal := strings.Cut(text, "=")
	if !validName(name) {
		return
	}
	v := st.vars[name]
	v.Exported = v.Exported || export
	switch {
	case hasVal:
		v.Val, v.Known, v.Site = val, x.Known && !x.Glob, &AssignSite{Name: name, Raw: x.Raw}
		if only {
			v.Site.Del = whole
		} else {
			v.Site.Del = DeleteWord(x)
		}
		w.sites[name] = append(w.sites[name], v.Site)
	case !hasVar(st.vars, name):
		return // exporting an unset name: still unset
	}
	st.vars[name] = v
}
