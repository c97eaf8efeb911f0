package pkgmgr

import (
	"path"
	"slices"

	"github.com/autocache/autocache/pkgmgr/internal/shell"
)

// cli is the shape most managers' commands share: a program with options,
// a subcommand that downloads into a cache directory, flags and variables
// that turn the cache off, and subcommands that empty it. A manager whose
// commands look so is mostly this declaration; run does the rest.
type cli struct {
	// sub reads what the command does, its subcommand ("" = nothing here).
	sub func(c call) string
	// fetches are the subcommands that download into the cache.
	fetches map[string]bool
	// cache is where the command keeps it; ok=false says why not known.
	cache func(c call) (dir string, ok bool, why string)
	// mounts are the caches in that directory (nil: the directory itself).
	mounts func(c call, dir string) []mount
	// sharing is the caches' sharing mode.
	sharing string
	// check is asked before a fetching command's caches are: a reason to
	// skip them, or "" (it may block targets instead).
	check func(t *task, c call, dir string) string
	// off matches the flags that turn the cache off, in offWords (nil:
	// the words of the tool itself, toolWords); offEnv the variables.
	off      func(w shell.Word) bool
	offWords func(c call) []shell.Word
	offEnv   []string
	// clears are the caches a command that doesn't fetch empties (nil:
	// none); they go once mounted.
	clears func(c call, dir string) []string
}

// call is one command of a cli manager.
type call struct {
	*shell.Command
	prog string // the manager's program it runs (program)
	from int    // index in argv of the program's first argument
	sub  string // cli.sub's answer
}

// mount is one cache of a fetching command, in its cache directory.
type mount struct {
	dir    string // relative to the cache directory ("" = itself)
	built  bool   // where the manager builds what it installs: per image (task.wantBuilt)
	inside bool   // built inside the cache directory's own mount
}

// fetch is a command that downloads, and its cache directory.
type fetch struct {
	c   call
	dir string
}

// run reads the step's commands for the manager of t; it returns the
// commands that fetch into a cache it asked for.
func (s cli) run(t *task) []fetch {
	var fetches []fetch
	var uses []offUse
	for _, cmd := range t.commands() {
		prog, from, ok := t.runs(cmd)
		if !ok {
			continue
		}
		c := call{Command: cmd, prog: prog, from: from}
		if s.sub != nil {
			c.sub = s.sub(c)
		}
		if !s.fetches[c.sub] {
			s.clear(t, c)
			continue
		}
		t.detect()
		dir, ok, why := s.cache(c)
		if ok && s.check != nil {
			why = s.check(t, c, dir)
			ok = why == ""
		}
		if !ok {
			t.skip(why)
			continue
		}
		off := s.offSwitches(c)
		for _, m := range s.cachesIn(c, dir) {
			target := path.Join(dir, m.dir)
			if m.built {
				inside := ""
				if m.inside {
					inside = dir
				}
				t.wantBuilt(c.User, inside, target, s.sharing)
			} else {
				t.want(c.User, target, s.sharing)
			}
			uses = append(uses, offUse{c: c.Command, target: target, words: off})
		}
		fetches = append(fetches, fetch{c, dir})
	}
	if len(uses) > 0 {
		t.dropOffSwitches(s.offEnv, uses)
	}
	return fetches
}

// clear notes what a command that doesn't fetch empties.
func (s cli) clear(t *task, c call) {
	if s.clears == nil {
		return
	}
	if dir, ok, _ := s.cache(c); ok {
		if targets := s.clears(c, dir); len(targets) > 0 {
			t.clears(c.Command, targets...)
		}
	}
}

func (s cli) cachesIn(c call, dir string) []mount {
	if s.mounts == nil {
		return []mount{{}}
	}
	return s.mounts(c, dir)
}

// offSwitches are the command's flags that turn the cache off.
func (s cli) offSwitches(c call) []shell.Word {
	if s.off == nil {
		return nil
	}
	words := toolWords(c.Argv, c.from, 0, false, nil)
	if s.offWords != nil {
		words = s.offWords(c)
	}
	var off []shell.Word
	for _, w := range words {
		if s.off(w) {
			off = append(off, w)
		}
	}
	return off
}

// flagIn matches a known word that is one of names.
func flagIn(names ...string) func(w shell.Word) bool {
	return func(w shell.Word) bool {
		for _, n := range names {
			if w.Known && w.Val == n {
				return true
			}
		}
		return false
	}
}

// subIn is a cli.sub for tools whose subcommand is their first operand,
// after options: valued are the short ones that take a value, long the
// long ones. A subcommand in groups takes the next word too ("store
// prune").
func subIn(valued string, long []string, groups ...string) func(c call) string {
	return func(c call) string {
		rest, ok := shell.SkipOptions(c.Argv[c.from:], valued, long)
		if !ok || len(rest) == 0 || !rest[0].Known {
			return ""
		}
		sub := rest[0].Val
		if slices.Contains(groups, sub) && len(rest) > 1 && rest[1].Known {
			return sub + " " + rest[1].Val
		}
		return sub
	}
}

// clearsOn is a cli.clears for tools whose subcommands subs empty the
// whole cache.
func clearsOn(subs ...string) func(c call, dir string) []string {
	return func(c call, dir string) []string {
		if slices.Contains(subs, c.sub) {
			return []string{dir}
		}
		return nil
	}
}
