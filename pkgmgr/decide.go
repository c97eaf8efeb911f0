package pkgmgr

import (
	"path"
	"slices"
	"strings"

	"github.com/autocache/autocache/internal/fspath"
	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// The mount decision: which of the requested caches the step gets, and
// which of its cleanups go once they are mounted.

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
	for changed := true; changed; {
		kept := a.dropKeptCleanups(owner, mounted)
		paired := a.pairNested(owner, mounted)
		changed = kept || paired
	}
	return mounted
}

// dropKeptCleanups unmounts the caches that a cleanup would keep wiping: one
// we can't edit, or one that also wipes a cache that is not mounted (it
// can only go if all are). It reports whether it unmounted any.
func (a *analysis) dropKeptCleanups(owner map[string]string, mounted map[string]bool) bool {
	changed := false
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
	return changed
}

// pairNested keeps a per-image cache and the cache around it together:
// alone, the outer one would take in what the step builds, for every
// image, and the inner one could be hit by an rm of the outer. It reports
// whether it unmounted any.
func (a *analysis) pairNested(owner map[string]string, mounted map[string]bool) bool {
	changed := false
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
	return changed
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
