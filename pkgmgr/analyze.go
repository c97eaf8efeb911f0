package pkgmgr

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/autocache/autocache/imagefacts"
	"github.com/autocache/autocache/internal/fspath"
	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// cleanItem is one part of a cleanup command: an rm operand, a go clean
// flag (word = index in argv), or the whole command (word = -1).
type cleanItem struct {
	word    int
	targets []string // caches it wipes
	any     bool     // droppable once any target is mounted (rm operands), else all must be
}

// cleanup is a command that wipes caches. Once the caches are mounted it
// only wipes them, so it goes: item by item, or whole (→ `true`).
type cleanup struct {
	mgr   string
	cmd   *shell.Command
	items []cleanItem
}

type analysis struct {
	step     Step
	walked   *shell.Walked
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
	a, p, done := begin(s, o)
	if done {
		return p, nil
	}
	mounted := a.decide()
	return a.plan(mounted)
}

// Ask says what Analyze's plan for s depends on that s doesn't say yet
// (Questions).
func Ask(s Step, o Options) Questions {
	a, _, done := begin(s, o)
	switch {
	case done:
		return Questions{}
	case a.asked:
		return Questions{Release: true}
	}
	var q Questions
	for _, r := range a.reqs {
		if r.Follows == "" && a.blocker(r.Target) == "" {
			q.Caches = append(q.Caches, *r)
		}
	}
	return q
}

// begin runs the managers over the step. done means there is nothing to
// decide, and p is the plan.
func begin(s Step, o Options) (*analysis, Plan, bool) {
	if (s.OS != "" && s.OS != "linux") || len(s.Args) == 0 || shell.Foreign(s.Args[0]) {
		return nil, Plan{}, true
	}
	w := shell.Walk(s.Args, s.Env, s.User, s.Cwd)
	a := &analysis{step: s, walked: w, cmds: w.Commands, sites: w.Sites, notes: w.Notes, rms: findRms(w.Commands),
		detected: map[string]bool{}, bad: map[string]string{}, dropEnv: map[string]bool{}, setEnv: map[string]string{}}
	u := shell.ParseUser(s.User)
	if u.Kind == shell.NamedUser {
		a.blocked = "user " + u.Spec + " not resolved yet"
	}
	enabled := names()
	if o.Managers != nil {
		enabled = slices.DeleteFunc(enabled, func(n string) bool { return !slices.Contains(o.Managers, n) })
	}
	for _, f := range s.Follow {
		a.reqs = append(a.reqs, &f)
	}
	for _, n := range enabled {
		m := registry[n]
		m.Analyze(&task{a: a, m: m})
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

// nestedIn is the requested cache that target, a per-image one, is inside
// of, or nil.
func (a *analysis) nestedIn(target string) *CacheMount {
	per := false
	for _, r := range a.reqs {
		per = per || r.Target == target && r.PerImage
	}
	if !per {
		return nil
	}
	for _, r := range a.reqs {
		if r.Target != target && fspath.Within(target, r.Target) {
			return r
		}
	}
	return nil
}

// decide picks the caches to mount: requested ones that the step doesn't
// cover already, that no rm would take away, and whose cleanups can go.
func (a *analysis) decide() map[string]bool {
	owner := map[string]string{}
	mounted := map[string]bool{}
	for _, r := range a.reqs {
		owner[r.Target] = r.Manager
		why := a.blocker(r.Target)
		if why == "" && r.Follows == "" {
			why = a.step.Refused[r.Target]
		}
		if why != "" {
			a.note(r.Manager, "skipped "+r.Target+": "+why)
			continue
		}
		mounted[r.Target] = true
	}
	a.addRmCleanups()
	// A cleanup we can't edit keeps wiping the cache: don't mount it. A
	// cleanup that wipes two caches can only go if both are mounted.
	for changed := true; changed; {
		changed = false
		for _, c := range a.cleanups {
			for _, it := range c.items {
				var hit, miss []string
				for _, t := range it.targets {
					if mounted[t] {
						hit = append(hit, t)
					} else {
						miss = append(miss, t)
					}
				}
				if len(hit) == 0 {
					continue
				}
				why := ""
				switch {
				case a.itemEdit(c, it) == nil:
					why = "can't edit `" + shell.OneLine(c.cmd.Raw) + "` (inside a string)"
				case !it.any && len(miss) > 0:
					why = "`" + shell.OneLine(c.cmd.Raw) + "` also removes " + strings.Join(miss, ", ")
				default:
					continue
				}
				for _, t := range hit {
					delete(mounted, t)
					a.note(owner[t], "skipped "+t+": "+why)
				}
				changed = true
			}
		}
		// A per-image cache and the cache around it go together: alone,
		// the outer one would take in what the step builds, for every
		// image, and the inner one could be hit by an rm of the outer.
		for _, r := range a.reqs {
			o := a.nestedIn(r.Target)
			if o == nil || mounted[r.Target] == mounted[o.Target] {
				continue
			}
			t, why := o.Target, r.Target+" inside it is not cached"
			if mounted[r.Target] {
				t, why = r.Target, "the cache around it ("+o.Target+") is not"
			}
			delete(mounted, t)
			a.note(owner[t], "skipped "+t+": "+why)
			changed = true
		}
	}
	return mounted
}

// blocker says why target can't be a cache mount, or "".
func (a *analysis) blocker(target string) string {
	if why := a.bad[target]; why != "" {
		return why
	}
	if broadDirs[target] {
		return "too broad a directory to mount"
	}
	if a.step.Cwd != "" && fspath.Within(path.Clean(a.step.Cwd), target) {
		return "it holds the working directory"
	}
	for _, k := range a.step.Keep {
		if k = cleanAbs(k); fspath.Within(target, k) || fspath.Within(k, target) {
			return "a later step reads " + k + " from this layer"
		}
	}
	for _, m := range a.step.Mounts {
		m = cleanAbs(m)
		switch {
		case m == "/": // the rootfs
		case fspath.Within(target, m):
			return "the step already mounts " + m
		case fspath.Within(m, target):
			// Ours would be added after it and could shadow it.
			return "the step mounts " + m + " inside it"
		}
	}
	for _, r := range a.rms {
		for _, i := range r.paths {
			w := r.cmd.Argv[i]
			if p, ok := absPattern(w, r.cmd.Cwd); ok {
				if o := a.nestedIn(target); o != nil && patUnder(p, o.Target) {
					continue // cleans the outer cache: goes when both are mounted
				}
				if patReaches(p, target) && !patUnder(p, target) {
					return "`" + shell.OneLine(r.cmd.Raw) + "` would remove the mountpoint"
				}
			} else if mayHit(w, target, r.cmd.Cwd) {
				return "`" + shell.OneLine(r.cmd.Raw) + "` may remove it"
			}
		}
	}
	return ""
}

// addRmCleanups turns rm operands at or under a requested cache into
// cleanup items.
func (a *analysis) addRmCleanups() {
	for _, r := range a.rms {
		var items []cleanItem
		mgr := ""
		for _, i := range r.paths {
			p, ok := absPattern(r.cmd.Argv[i], r.cmd.Cwd)
			if !ok {
				continue
			}
			var ts []string
			for _, req := range a.reqs {
				if patUnder(p, req.Target) {
					ts = append(ts, req.Target)
					if mgr == "" {
						mgr = req.Manager
					}
				}
			}
			if len(ts) > 0 {
				items = append(items, cleanItem{word: i, targets: ts, any: true})
			}
		}
		if len(items) > 0 {
			a.cleanups = append(a.cleanups, &cleanup{mgr: mgr, cmd: r.cmd, items: items})
		}
	}
}

// itemEdit is the edit that drops one cleanup item (nil: can't).
func (a *analysis) itemEdit(c *cleanup, it cleanItem) *shell.Edit {
	if it.word < 0 {
		return c.cmd.Whole
	}
	return shell.DeleteWord(c.cmd.Argv[it.word])
}

// applyCleanups drops what mounted caches make pointless. A command left
// with nothing to do becomes `true`.
func (a *analysis) applyCleanups(mounted map[string]bool) {
	owner := map[string]string{}
	for _, r := range a.reqs {
		owner[r.Target] = r.Manager
	}
	for _, c := range a.cleanups {
		var drop []cleanItem
		mgrs := []string{}
		for _, it := range c.items {
			n := 0
			for _, t := range it.targets {
				if mounted[t] {
					n++
					if !slices.Contains(mgrs, owner[t]) {
						mgrs = append(mgrs, owner[t])
					}
				}
			}
			if n > 0 && (it.any || n == len(it.targets)) {
				drop = append(drop, it)
			}
		}
		if len(drop) == 0 {
			continue
		}
		if len(drop) == len(c.items) && (drop[0].word < 0 || a.onlyItems(c)) {
			a.edits = append(a.edits, c.cmd.Whole)
			for _, m := range mgrs {
				a.note(m, "removed `"+shell.OneLine(c.cmd.Raw)+"`")
			}
			continue
		}
		for _, it := range drop {
			a.edits = append(a.edits, a.itemEdit(c, it))
			for _, m := range mgrs {
				a.note(m, "dropped "+c.cmd.Argv[it.word].Raw+" from `"+shell.OneLine(c.cmd.Raw)+"`")
			}
		}
	}
}

// onlyItems reports whether a command's operands are all cleanup items, so
// dropping them all leaves nothing worth running.
func (a *analysis) onlyItems(c *cleanup) bool {
	for _, r := range a.rms {
		if r.cmd == c.cmd {
			return len(r.paths) == len(c.items)
		}
	}
	return true // go clean: items are all its cache flags
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

	args, err := shell.Apply(a.step.Args, a.edits)
	if err != nil {
		return Plan{}, fmt.Errorf("pkgmgr: %v", err)
	}
	if err := a.walked.Reparse(a.step.Args, args); err != nil {
		return Plan{}, fmt.Errorf("pkgmgr: edited script doesn't parse: %v", err)
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
