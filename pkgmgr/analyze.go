package pkgmgr

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/autocache/autocache/imagefacts"
	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// analysis is one step's: what it runs, what its managers asked for
// (through their tasks, task.go), and what the decision (decide.go) then
// makes of the step.
type analysis struct {
	step     Step
	cmds     []*shell.Command
	rms      []rmCmd
	sites    map[string][]*shell.AssignSite
	blocked  string // why no cache can be added for the whole step
	notes    []string
	detected map[string]bool
	reqs     []*CacheMount
	bad      map[string]string // requested targets we can't mount, and why
	cleanups []*cleanup
	finish   []func(mounted map[string]bool)
	edits    []*shell.Edit
	dropEnv  map[string]bool
	setEnv   map[string]string // step env entries to set (only the managers' StepEnv)
	files    []FileMount
	asked    bool // a manager read Step.Release, which is nil
}

// release is the step's image's os-release (Step.Release); unknown when
// the caller hasn't said, and then Ask asks for it.
func (a *analysis) release() imagefacts.OSRelease {
	if a.step.Release == nil {
		a.asked = true
		return imagefacts.OSRelease{}
	}
	return *a.step.Release
}

// Analyze works out what to do to one step. An error means something
// unexpected (a bug) and the step should be left alone. It does not
// recover from panics: the frontend does, for the whole transform.
func Analyze(s Step, o Options) (Plan, error) {
	return Begin(s, o).Plan(s.Refused)
}

// Ask says what Analyze's plan for s depends on that s doesn't say yet
// (Questions).
func Ask(s Step, o Options) Questions {
	return Begin(s, o).Questions()
}

// Analysis is one step's analysis from its questions to its plan, for a
// caller that answers them (llbtransform): the script is walked and the
// managers run once, where Ask then Analyze would do both twice.
type Analysis struct {
	s    Step
	o    Options
	a    *analysis
	p    Plan
	done bool
}

// Begin analyses s as far as Ask does.
func Begin(s Step, o Options) *Analysis {
	a, p, done := begin(s, o)
	return &Analysis{s: s, o: o, a: a, p: p, done: done}
}

// Idle says the step runs no package manager and follows no cache: its
// plan is empty whatever the caller would answer, so it need not look
// anything up for it (the step's user, say).
func (x *Analysis) Idle() bool {
	return x.done && len(x.p.Managers) == 0 && len(x.s.Follow) == 0
}

// Questions are Ask's.
func (x *Analysis) Questions() Questions {
	switch {
	case x.done:
		return Questions{}
	case x.a.asked:
		return Questions{Release: true}
	}
	var q Questions
	for _, r := range x.a.reqs {
		if r.Follows == "" && x.a.blocker(r.Target) == "" {
			q.Caches = append(q.Caches, *r)
		}
	}
	return q
}

// SetRelease answers Questions.Release. The managers read it while they
// run, so they run again (rare: only microdnf asks).
func (x *Analysis) SetRelease(rel imagefacts.OSRelease) {
	s := x.s
	s.Release = &rel
	*x = *Begin(s, x.o)
}

// Plan is Analyze's plan for the step with refused as its Step.Refused
// (nothing else in the step is read after Begin). Call it once: deciding
// edits the analysis.
func (x *Analysis) Plan(refused map[string]string) (Plan, error) {
	if x.done {
		return x.p, nil
	}
	x.a.step.Refused = refused
	mounted := x.a.decide()
	return x.a.plan(mounted)
}

// begin runs the managers over the step. done means there is nothing to
// decide, and p is the plan.
func begin(s Step, o Options) (*analysis, Plan, bool) {
	if (s.OS != "" && s.OS != "linux") || len(s.Args) == 0 || shell.Foreign(s.Args[0]) {
		return nil, Plan{}, true
	}
	w := shell.Walk(s.Args, s.Env, s.User, s.Cwd)
	a := &analysis{step: s, cmds: w.Commands, sites: w.Sites, notes: w.Notes, rms: findRms(w.Commands),
		detected: map[string]bool{}, bad: map[string]string{}, dropEnv: map[string]bool{}, setEnv: map[string]string{}}
	u := shell.ParseUser(s.User)
	if u.Kind == shell.NamedUser {
		a.blocked = "user " + u.Spec + " not resolved yet"
	}
	enabled := sortedNames()
	if o.Managers != nil {
		enabled = slices.DeleteFunc(slices.Clone(enabled), func(n string) bool { return !slices.Contains(o.Managers, n) })
	}
	for _, f := range s.Follow {
		a.reqs = append(a.reqs, &f)
	}
	tasks := make([]task, len(enabled)) // one allocation; their closures keep pointers into it
	for i, n := range enabled {
		m := registry[n]
		tasks[i] = task{a: a, m: m}
		m.Analyze(&tasks[i])
	}
	if len(a.detected) == 0 && len(s.Follow) == 0 {
		if len(a.notes) > 0 {
			return a, Plan{Notes: a.notes}, true // e.g. a script we couldn't parse
		}
		return a, Plan{}, true
	}
	return a, Plan{}, false
}

func (a *analysis) note(mgr, msg string) {
	n := mgr + ": " + msg
	if !slices.Contains(a.notes, n) {
		a.notes = append(a.notes, n)
	}
}

func (a *analysis) plan(mounted map[string]bool) (Plan, error) {
	p := Plan{}
	for _, r := range a.reqs {
		if !mounted[r.Target] {
			continue
		}
		p.Caches = append(p.Caches, *r)
		msg := "cache " + r.Target + " (" + r.Sharing
		if r.PerImage {
			msg += ", per image"
		}
		if r.UID != 0 || r.GID != 0 {
			msg += ", uid " + strconv.Itoa(r.UID) + " gid " + strconv.Itoa(r.GID)
		}
		msg += ")"
		if r.Follows != "" {
			msg += " follows " + r.Follows
		}
		a.note(r.Manager, msg)
	}
	a.applyCleanups(mounted)
	for _, f := range a.finish {
		f(mounted)
	}
	for m := range a.detected {
		p.Managers = append(p.Managers, m)
	}
	sort.Strings(p.Managers)
	sort.Slice(p.Caches, func(i, j int) bool { return p.Caches[i].Target < p.Caches[j].Target })
	p.Files = a.files
	sort.Slice(p.Files, func(i, j int) bool { return p.Files[i].Target < p.Files[j].Target })
	p.Notes = a.notes

	// That the edited scripts still parse is checked by the tests, over
	// every table, the corpus and the fuzzers (checkPlan), not here.
	args, err := shell.Apply(a.step.Args, a.edits)
	if err != nil {
		return Plan{}, fmt.Errorf("pkgmgr: %v", err)
	}
	p.Args = args
	p.Env = slices.Clone(a.step.Env)
	if len(a.dropEnv) > 0 || len(a.setEnv) > 0 {
		p.Env = slices.DeleteFunc(p.Env, func(kv string) bool {
			k, _, _ := strings.Cut(kv, "=")
			_, set := a.setEnv[k]
			return a.dropEnv[k] || set
		})
	}
	keys := make([]string, 0, len(a.setEnv))
	for k := range a.setEnv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.Env = append(p.Env, k+"="+a.setEnv[k])
	}
	return p, nil
}
