package pkgmgr

import (
	"fmt"
	"slices"
	"strings"

	"github.com/autocache/autocache/imagefacts"
	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// task is one manager's part in one step's analysis. A manager sees the
// step only through it: the commands to read, and a narrow way to ask for
// caches (want), give up on them (skip, block), say what empties them
// (cleanup, clears) or turns them off (dropOffSwitches), and what to do
// once the mounts are decided (afterMount, whenMounted).
type task struct {
	a *analysis
	m *manager
}

// commands are the step's simple commands, in the order they run.
func (t *task) commands() []*shell.Command { return t.a.cmds }

// removals are the step's rm commands.
func (t *task) removals() []rmCmd { return t.a.rms }

// step is the step as given (read only).
func (t *task) step() Step { return t.a.step }

// is reports whether c runs one of the manager's programs by name.
func (t *task) is(c *shell.Command) bool { return answers(t.m.Programs, c.Name) }

// runs finds the manager's program in c, also behind a launcher, a shell
// or `python -m` (program): its name and the index of its first argument.
func (t *task) runs(c *shell.Command) (name string, from int, ok bool) {
	name, from = program(c)
	return name, from, answers(t.m.Programs, name)
}

// detect says the step runs the manager.
func (t *task) detect() { t.a.detected[t.m.Name] = true }

// detected reports whether detect was called.
func (t *task) detected() bool { return t.a.detected[t.m.Name] }

// note adds a note for the manager.
func (t *task) note(msg string) { t.a.note(t.m.Name, msg) }

// skip notes a cache it won't ask for.
func (t *task) skip(why string) {
	if t.a.blocked != "" {
		why = t.a.blocked
	}
	t.note("skipped: " + why)
}

// block says why no cache may be mounted at target (the last reason wins).
func (t *task) block(target, why string) { t.a.bad[target] = why }

// release is the os-release of the step's image (Step.Release).
func (t *task) release() imagefacts.OSRelease { return t.a.release() }

// want asks for a cache at target for a command run as u.
func (t *task) want(u shell.User, target, sharing string) {
	a, mgr := t.a, t.m.Name
	if a.blocked != "" {
		t.note("skipped: " + a.blocked)
		return
	}
	if u.Kind == shell.NamedUser {
		t.note("skipped: user " + u.Spec + " not resolved yet")
		return
	}
	uid, gid := u.Owner()
	for _, r := range a.reqs {
		if r.Target != target {
			continue
		}
		if r.Follows != "" {
			return // the lineage's cache is already there; it wins
		}
		// Two managers may share a directory (gem and bundler both use
		// GEM_HOME/cache; yum and dnf /var/cache/dnf): fine when they agree
		// on owner and sharing. The first one named keeps it.
		if r.UID != uid || r.GID != gid || r.Sharing != sharing {
			a.bad[target] = fmt.Sprintf("wanted by %s as %d:%d (%s) and by %s as %d:%d (%s)",
				r.Manager, r.UID, r.GID, r.Sharing, mgr, uid, gid, sharing)
		}
		return
	}
	skel := t.m.Skeleton[target]
	if skel == nil {
		skel = t.m.Skeleton[""]
	}
	a.reqs = append(a.reqs, &CacheMount{Manager: mgr, Target: target, Sharing: sharing, UID: uid, GID: gid,
		Local: t.m.Local, PerPlatform: t.m.PerPlatform, Skeleton: skel})
}

// wantBuilt asks for a cache at target for what the manager builds there
// (CacheMount.PerImage); inside is the manager's cache around it, or "".
// Nested, it is asked for only for root: the runtime creates the
// mountpoint in the outer cache as root, and a hand-written mount of that
// cache (same id) run as the user could then not write there. A non-root
// step's built wheels stay in the outer cache.
func (t *task) wantBuilt(u shell.User, inside, target, sharing string) {
	if uid, _ := u.Owner(); inside != "" && uid != 0 {
		t.note("built wheels stay in " + inside + ", shared by every image: the step is not run as root")
		return
	}
	t.want(u, target, sharing)
	for _, r := range t.a.reqs {
		if r.Target == target && r.Follows == "" {
			r.PerImage = true
		}
	}
}

// cleanup says c empties caches: item by item, or as a whole (word -1).
func (t *task) cleanup(c *shell.Command, items ...cleanItem) {
	t.a.cleanups = append(t.a.cleanups, &cleanup{mgr: t.m.Name, cmd: c, items: items})
}

// clears says the whole command c empties targets, all of them.
func (t *task) clears(c *shell.Command, targets ...string) {
	t.cleanup(c, cleanItem{word: -1, targets: targets})
}

// afterMount runs f once the mounts are decided.
func (t *task) afterMount(f func(m mounted)) {
	t.a.finish = append(t.a.finish, func(set map[string]bool) { f(mounted{t: t, set: set}) })
}

// whenMounted makes edits and notes once any of targets is mounted: the
// flags a cache needs, say.
func (t *task) whenMounted(targets []string, edits []*shell.Edit, notes []string) {
	t.afterMount(func(m mounted) {
		if m.anyOf(targets) {
			m.edit(edits...)
			for _, n := range notes {
				m.note(n)
			}
		}
	})
}

// mounted is what a manager can do once the mounts are decided.
type mounted struct {
	t   *task
	set map[string]bool
}

func (m mounted) has(target string) bool { return m.set[target] }

func (m mounted) anyOf(targets []string) bool {
	return slices.ContainsFunc(targets, m.has)
}

func (m mounted) note(msg string) { m.t.note(msg) }

func (m mounted) edit(es ...*shell.Edit) { m.t.a.edits = append(m.t.a.edits, es...) }

// file binds a small generated file read-only for the step.
func (m mounted) file(target string, contents []byte) {
	m.t.a.files = append(m.t.a.files, FileMount{Manager: m.t.m.Name, Target: target, Contents: contents})
}

// setEnv makes the step run with NAME=val (replacing what Step.Env has);
// name must be one of the manager's StepEnv.
func (m mounted) setEnv(name, val string) {
	a := m.t.a
	if !slices.Contains(m.t.m.StepEnv, name) {
		panic("pkgmgr: " + m.t.m.Name + " sets " + name + " for the step")
	}
	if v, ok := shell.EnvVars(a.step.Env)[name]; ok && v.Val == val {
		return // already so
	}
	if a.setEnv[name] == val {
		return
	}
	a.setEnv[name] = val
	m.note("set " + name + "=" + val + " for the step")
}

// offUse is one command that would leave a cache unused: flags that turn
// the cache off (dropped once the cache is mounted) and its target.
type offUse struct {
	c      *shell.Command
	target string
	words  []shell.Word
	bare   bool // notes name the flag alone ("dropped --no-cache-dir")
}

// dropOffSwitches removes, once the mounts are decided, what turns mounted
// caches off: the flags of each use whose target is mounted, and the
// variables in envs wherever the step sets them (on the command line, in
// the script, in Step.Env) once any target is mounted.
func (t *task) dropOffSwitches(envs []string, uses []offUse) {
	t.afterMount(func(m mounted) {
		done := map[*shell.AssignSite]bool{}
		dropSite := func(s *shell.AssignSite) {
			if done[s] {
				return
			}
			done[s] = true
			what := "`" + shell.OneLine(s.Raw) + "`"
			if s.Del == nil {
				m.note("kept " + what + " (inside a string it can't edit): the cache stays unused")
				return
			}
			m.edit(s.Del)
			m.note("dropped " + what)
		}
		hit := false
		dropped := map[[2]int]bool{} // by (arg, start): a word of several uses goes once
		for _, u := range uses {
			if u.target == "" || !m.has(u.target) {
				continue
			}
			hit = true
			for _, w := range u.words {
				if k := [2]int{w.Arg, w.Start}; w.Arg >= 0 {
					if dropped[k] {
						continue
					}
					dropped[k] = true
				}
				dropOffWord(m, u, w)
			}
			for _, s := range u.c.Inline {
				if slices.Contains(envs, s.Name) {
					dropSite(s)
				}
			}
		}
		if !hit {
			return
		}
		for _, name := range envs {
			for _, s := range t.a.sites[name] {
				dropSite(s)
			}
			for _, kv := range t.a.step.Env {
				if strings.HasPrefix(kv, name+"=") && !t.a.dropEnv[name] {
					t.a.dropEnv[name] = true
					m.note("removed " + name + " from the step's env")
				}
			}
		}
	})
}

// dropOffWord drops one flag of u, or notes that it can't.
func dropOffWord(m mounted, u offUse, w shell.Word) {
	what := w.Raw
	if u.bare {
		what = w.Val
	}
	if e := shell.DeleteWord(w); e != nil {
		m.edit(e)
		if u.bare {
			m.note("dropped " + what)
		} else {
			m.note("dropped " + what + " from `" + shell.OneLine(u.c.Raw) + "`")
		}
		return
	}
	m.note("kept " + what + " (inside a string it can't edit): the cache stays unused")
}
