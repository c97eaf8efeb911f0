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
	"mvdan.cc/sh/v3/syntax"
)

// edit is one change to Step.Args: bytes [start,end) of Args[arg] become
// repl; or (elem) Args[arg] is dropped; or (all) the argv becomes ["true"].
type edit struct {
	arg        int
	start, end int
	repl       string
	elem       bool
	all        bool
}

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
	cmd   *command
	items []cleanItem
}

type analysis struct {
	step     Step
	cmds     []*command
	rms      []rmCmd
	sites    map[string][]*assignSite
	blocked  string // why no cache can be added for the whole step
	notes    []string
	detected map[string]bool
	reqs     []*CacheMount
	bad      map[string]string // requested targets we can't mount, and why
	cleanups []*cleanup
	finish   []func(mounted map[string]bool)
	edits    []*edit
	dropEnv  map[string]bool
	setEnv   map[string]string // step env entries to set (only keys in stepEnvKeys)
	files    []FileMount
	scripts  map[int]syntax.LangVariant // Args holding a whole script we parsed
	asked    bool                       // a manager read Step.Release, which is nil
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
	if (s.OS != "" && s.OS != "linux") || len(s.Args) == 0 || foreignShells[path.Base(s.Args[0])] {
		return nil, Plan{}, true
	}
	a := &analysis{step: s, detected: map[string]bool{}, bad: map[string]string{}, dropEnv: map[string]bool{},
		setEnv: map[string]string{}, scripts: map[int]syntax.LangVariant{}, sites: map[string][]*assignSite{}}
	a.walk()
	u := parseUser(s.User)
	if u.kind == namedUser {
		a.blocked = "user " + u.spec + " not resolved yet"
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

func (a *analysis) walk() {
	s := a.step
	cwd := s.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		cwd = ""
	}
	st := &state{vars: envVars(s.Env), user: parseUser(s.User), cwd: cwd, goenv: vars{}}
	words := make([]word, len(s.Args))
	for i, x := range s.Args {
		words[i] = literalWord(x, i)
	}
	w := &walker{sites: a.sites}
	cmd := &command{env: st.vars.exported(), user: st.user, cwd: cwd, goenv: vars{},
		raw: strings.Join(s.Args, " "), whole: &edit{all: true}}
	w.run(cmd, words, nil, st, nil)
	a.cmds, a.notes = w.cmds, w.notes
	for _, sc := range w.scripts {
		if sc.editable() && sc.base == 0 && sc.arg < len(s.Args) && sc.text == s.Args[sc.arg] {
			a.scripts[sc.arg] = sc.lang
		}
	}
	a.rms = findRms(a.cmds)
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
					why = "can't edit `" + oneLine(c.cmd.raw) + "` (inside a string)"
				case !it.any && len(miss) > 0:
					why = "`" + oneLine(c.cmd.raw) + "` also removes " + strings.Join(miss, ", ")
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
			w := r.cmd.argv[i]
			if p, ok := absPattern(w, r.cmd.cwd); ok {
				if o := a.nestedIn(target); o != nil && patUnder(p, o.Target) {
					continue // cleans the outer cache: goes when both are mounted
				}
				if patReaches(p, target) && !patUnder(p, target) {
					return "`" + oneLine(r.cmd.raw) + "` would remove the mountpoint"
				}
			} else if mayHit(w, target, r.cmd.cwd) {
				return "`" + oneLine(r.cmd.raw) + "` may remove it"
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
			p, ok := absPattern(r.cmd.argv[i], r.cmd.cwd)
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
func (a *analysis) itemEdit(c *cleanup, it cleanItem) *edit {
	if it.word < 0 {
		return c.cmd.whole
	}
	return wordDel(c.cmd.argv[it.word])
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
			a.edits = append(a.edits, c.cmd.whole)
			for _, m := range mgrs {
				a.note(m, "removed `"+oneLine(c.cmd.raw)+"`")
			}
			continue
		}
		for _, it := range drop {
			a.edits = append(a.edits, a.itemEdit(c, it))
			for _, m := range mgrs {
				a.note(m, "dropped "+c.cmd.argv[it.word].raw+" from `"+oneLine(c.cmd.raw)+"`")
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

	args, err := applyEdits(a.step.Args, a.edits)
	if err != nil {
		return Plan{}, err
	}
	for i, lang := range a.scripts {
		if i < len(args) && args[i] != a.step.Args[i] {
			if _, _, err := parse(args[i], lang); err != nil {
				return Plan{}, fmt.Errorf("pkgmgr: edited script doesn't parse: %v", err)
			}
		}
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

// applyEdits applies non-overlapping edits to a copy of args.
func applyEdits(args []string, edits []*edit) ([]string, error) {
	out := slices.Clone(args)
	byArg := map[int][]*edit{}
	drop := map[int]bool{}
	for _, e := range edits {
		switch {
		case e == nil:
			return nil, fmt.Errorf("pkgmgr: missing edit")
		case e.all:
			return []string{"true"}, nil
		case e.arg < 0 || e.arg >= len(args):
			return nil, fmt.Errorf("pkgmgr: edit of argument %d out of range", e.arg)
		case e.elem:
			drop[e.arg] = true
		default:
			byArg[e.arg] = append(byArg[e.arg], e)
		}
	}
	for i, es := range byArg {
		// Outer edits first; an edit inside one already made is moot. An
		// insertion (start == end) goes before an edit that starts where
		// it is, and is moot only strictly inside an edit already made.
		sort.SliceStable(es, func(x, y int) bool {
			if es[x].start != es[y].start {
				return es[x].start < es[y].start
			}
			if (es[x].start == es[x].end) != (es[y].start == es[y].end) {
				return es[x].start == es[x].end
			}
			return es[x].end > es[y].end
		})
		s := args[i]
		var b strings.Builder
		last := 0
		var prev *edit
		for _, e := range es {
			if e.end < e.start || e.end > len(s) {
				return nil, fmt.Errorf("pkgmgr: bad edit [%d,%d) of argument %d", e.start, e.end, i)
			}
			if e.start == e.end && e.start == last && prev != nil && prev.start == prev.end {
				if e.repl == prev.repl {
					continue // the same insertion twice
				}
			} else if e.start == e.end {
				if prev != nil && e.start > prev.start && e.start < prev.end {
					continue
				}
			} else if prev != nil && e.start >= prev.start && e.end <= prev.end {
				continue
			}
			if e.start < last {
				return nil, fmt.Errorf("pkgmgr: overlapping edits in argument %d at %d", i, e.start)
			}
			b.WriteString(s[last:e.start])
			b.WriteString(e.repl)
			last, prev = e.end, e
		}
		b.WriteString(s[last:])
		out[i] = b.String()
	}
	if len(drop) > 0 {
		kept := out[:0:0]
		for i, x := range out {
			if !drop[i] {
				kept = append(kept, x)
			}
		}
		out = kept
	}
	return out, nil
}
