package pkgmgr

import (
	"slices"
	"sort"
	"strings"
	"sync"
)

// manager is one package manager as its file registers it: what pkgmgr
// knows about it outside its analysis, and that analysis. Adding a manager
// is one file that calls register, its test file (whose table registers
// with registerCases) and its row in docs/managers.md; registry_test.go
// fails when one of them is missing.
type manager struct {
	// Name is the canonical name: AUTOCACHE_MANAGERS, notes, the docs row.
	Name string
	// Programs are the commands it answers to, as basenames; "pipX.Y"
	// stands for pip with or without a version ("pip3.12").
	Programs []string
	// Launchers run one of Programs as their first operand: `corepack yarn
	// …`, `php composer.phar …` (program).
	Launchers []string
	// CacheVars name its cache locations, CachePrograms print them (in
	// $(…)): an rm of an unresolved one may hit a cache it mounts (mayHit).
	// CacheVarsFold are CacheVars the tool reads in any letter case.
	CacheVars, CacheVarsFold, CachePrograms []string
	// PerPlatform: its caches are kept apart per platform, which their
	// cache ids then name (CacheMount.PerPlatform); docs/cache-ids.md says
	// why for every manager.
	PerPlatform bool
	// Local: later steps never need what it leaves in its caches (system
	// package managers: images delete downloaded packages and lists
	// anyway, and their locked caches would serialize every later step
	// they were given to), so they stay with their step (CacheMount.Local).
	Local bool
	// Skeleton lists, per cache target ("" for any of its targets), what a
	// fresh image has there that is not content (CacheMount.Skeleton).
	Skeleton map[string][]string
	// StepEnv are the variables its plans may set for the step (never in
	// the image config).
	StepEnv []string
	// Analyze reads the step's commands and asks for caches through t.
	Analyze func(t *task)
}

var registry = map[string]*manager{}

// register adds a manager; each manager's file calls it from init.
func register(m manager) {
	if m.Name == "" || m.Analyze == nil || registry[m.Name] != nil {
		panic("pkgmgr: bad or duplicate manager " + m.Name)
	}
	registry[m.Name] = &m
}

func names() []string { return slices.Clone(sortedNames()) }

// sortedNames is names(), shared: every step's analysis walks it, and the
// registry is complete once init is done.
var sortedNames = sync.OnceValue(func() []string {
	n := make([]string, 0, len(registry))
	for k := range registry {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
})

// answers reports whether a program's basename is one of programs (see
// manager.Programs).
func answers(programs []string, name string) bool {
	for _, p := range programs {
		if base, versioned := strings.CutSuffix(p, "X.Y"); versioned && isVersioned(name, base) || p == name {
			return true
		}
	}
	return false
}

// tables are what the registry says across managers.
type tables struct {
	cacheVars     map[string]bool // CacheVars, and HOME and the XDG dirs every manager's defaults hang off
	cacheVarsFold map[string]bool // lower case
	cachePrograms map[string]bool
	stepEnv       map[string]bool
	launched      map[string][]string // launcher → the programs it may run
}

var registered = sync.OnceValue(func() tables {
	t := tables{
		cacheVars:     map[string]bool{"HOME": true, "XDG_CACHE_HOME": true, "XDG_DATA_HOME": true},
		cacheVarsFold: map[string]bool{}, cachePrograms: map[string]bool{}, stepEnv: map[string]bool{},
		launched: map[string][]string{},
	}
	for _, n := range names() {
		m := registry[n]
		for _, v := range m.CacheVars {
			t.cacheVars[v] = true
		}
		for _, v := range m.CacheVarsFold {
			t.cacheVarsFold[strings.ToLower(v)] = true
		}
		for _, p := range m.CachePrograms {
			t.cachePrograms[p] = true
		}
		for _, v := range m.StepEnv {
			t.stepEnv[v] = true
		}
		for _, l := range m.Launchers {
			t.launched[l] = append(t.launched[l], m.Programs...)
		}
	}
	return t
})

// isCacheVar reports whether $name may name a cache location.
func isCacheVar(name string) bool {
	r := registered()
	return r.cacheVars[name] || r.cacheVarsFold[strings.ToLower(name)]
}

// launches reports whether launcher (a Launchers entry) runs prog.
func launches(launcher, prog string) bool {
	return slices.Contains(registered().launched[launcher], prog)
}
