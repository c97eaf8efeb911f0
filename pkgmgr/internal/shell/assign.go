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
	st.exp = nil
}

func hasVar(v Vars, name string) bool { _, ok := v[name]; return ok }

// decl handles bash's `export A=1 B`, `declare -x …`, `local …`.
func (w *walker) decl(d *syntax.DeclClause, src *source, st *state) {
	w.substs(d, src, st)
	export := d.Variant.Value == "export"
	var dels []*Edit
	for _, a := range d.Args {
		if a.Name == nil {
			if a.Value != nil && a.Value.Lit() == "-x" && d.Variant.Value == "declare" {
				export = true
			}
			continue
		}
		site := w.declSite(d, a, src)
		if site.Del != nil {
			dels = append(dels, site.Del)
		}
		w.assign(a, src, st, export, site)
	}
	if len(dels) > 1 && len(dels) == len(d.Args) {
		// A bare `export` would list the environment.
		group(src.replace(off(d.Pos()), off(d.End()), "true"), dels...)
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

// stmtAssignSites are how to remove each assignment of a bare `A=1 B=2`
// statement, with the blanks between it and the rest (two of them removed
// overlap there: Apply removes both); all of them leave `true`.
func (w *walker) stmtAssignSites(c *syntax.CallExpr, src *source) []*AssignSite {
	n := len(c.Assigns)
	sites := make([]*AssignSite, n)
	var dels []*Edit
	for i, a := range c.Assigns {
		sites[i] = &AssignSite{Raw: src.text[off(a.Pos()):off(a.End())]}
		if a.Name != nil {
			sites[i].Name = a.Name.Value
		}
		switch {
		case !src.editable():
			continue
		case n == 1:
			sites[i].Del = src.replace(off(c.Pos()), off(c.End()), "true")
		case i == 0:
			sites[i].Del = src.replace(off(a.Pos()), blankAfter(src.text, off(a.End())), "")
		default:
			sites[i].Del = src.replace(blankBefore(src.text, off(a.Pos())), off(a.End()), "")
		}
		dels = append(dels, sites[i].Del)
	}
	if n > 1 && len(dels) == n {
		group(src.replace(off(c.Pos()), off(c.End()), "true"), dels...)
	}
	return sites
}

// exportWord handles one word of `export A=1 B` (or readonly) and returns
// the edit that removes it, if any.
func (w *walker) exportWord(x Word, export, only bool, whole *Edit, st *state) *Edit {
	text := x.Val
	if !x.Known {
		text = x.Prefix
	}
	name, val, hasVal := strings.Cut(text, "=")
	if !validName(name) {
		return nil
	}
	v := st.vars[name]
	v.Exported = v.Exported || export
	var del *Edit
	switch {
	case hasVal:
		v.Val, v.Known, v.Site = val, x.Known && !x.Glob, &AssignSite{Name: name, Raw: x.Raw}
		if only {
			v.Site.Del = whole
		} else {
			v.Site.Del = DeleteWord(x)
		}
		del = v.Site.Del
		w.sites[name] = append(w.sites[name], v.Site)
	case !hasVar(st.vars, name):
		return nil // exporting an unset name: still unset
	}
	st.vars[name] = v
	st.exp = nil
	return del
}
