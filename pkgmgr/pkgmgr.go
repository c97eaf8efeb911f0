// Package pkgmgr knows what each package manager caches and how to see it
// in one build step. It has no BuildKit imports and does no I/O:
// llbtransform hands it a Step (argv, env, user, cwd, existing mounts, and
// what it knows of the step's lineage and image), asks what the plan
// depends on (Ask), answers in the Step, and applies the Plan that Analyze
// gives back (cache mounts, generated files, edited argv and env).
//
// Each manager is one file that registers one descriptor (registry.go) and
// reads the step through a task (task.go), most of them by declaring the
// common shape of their commands (cli.go); internal/shell says what the
// argv runs, decide.go which caches are mounted.
package pkgmgr

import "github.com/autocache/autocache/imagefacts"

// Step is one RUN as the solver will execute it.
type Step struct {
	Args   []string // argv; shell form is e.g. ["/bin/sh", "-c", "script"]
	Env    []string // KEY=VALUE in order; a later entry wins
	User   string   // "" = image default (root), "uid[:gid]" or "name[:group]"
	Cwd    string   // working directory ("" = "/")
	OS     string   // target platform OS; anything but "" or "linux" gets no plan
	Mounts []string // targets of mounts the step already has (user's own)
	// Keep lists paths whose content a later step or stage reads from this
	// step's result (e.g. a COPY --from): no cache is mounted at, over or
	// under them, since its content would be missing from the layer.
	Keep []string
	// Follow are caches that an earlier step of the same lineage mounted
	// (Follows set): what that step left there is in the cache, not in the
	// layers, so this step gets the same mount unless it removes the
	// directory or mounts something over or under it itself. Its cleanups
	// of them are neutralized as for its own caches.
	Follow []CacheMount
	// Release is what the image the step's lineage starts from is (its
	// os-release), as far as the caller knows. Only a manager whose flags
	// depend on the tool's version where the Dockerfile doesn't say reads
	// it (today: microdnf), and Ask says when one does. nil or a zero
	// value is unknown, and unknown keeps the step as conservative as
	// without it.
	Release *imagefacts.OSRelease
	// Refused answers Ask's Caches: by target, why a new cache there would
	// hide content the step needs; that cache is then skipped, with the
	// reason as its note. A target it doesn't name may be mounted.
	Refused map[string]string
}

// Questions are what a step's plan depends on that only the caller can
// tell (the step's lineage, its image). Ask for them, put the answers in
// the Step, then Analyze: the analysis itself never asks anything, so
// Analyze is a pure function of its Step and Options.
type Questions struct {
	// Release: the plan depends on Step.Release, which is nil.
	Release bool
	// Caches are the new caches (not Step.Follow) the plan would mount, in
	// order; Step.Refused says which of them must not be. Empty while
	// Release is asked: its answer may change them.
	Caches []CacheMount
}

// Sharing modes of a cache mount, as BuildKit names them.
const (
	Shared  = "shared"
	Private = "private"
	Locked  = "locked"
)

// CacheMount is a persistent cache directory to mount for the step.
type CacheMount struct {
	Manager string // canonical manager name ("apt", "pip", "npm", "go", …)
	Target  string // absolute, clean path
	Sharing string // Shared, Private or Locked
	UID     int    // owner of a newly created cache directory
	GID     int
	// Local: later steps never need what this manager leaves here (system
	// package managers: images delete downloaded packages and lists
	// anyway), so the cache is not given to later steps of the lineage.
	Local bool
	// PerPlatform: the cache is kept apart per platform, so its cache id
	// names the step's platform. That id no longer matches a hand-written
	// --mount=type=cache,target=…, so it is set only where one cache
	// shared by linux/amd64 and linux/arm64 would thrash or serialize for
	// nothing (each manager's register call says why; docs/cache-ids.md).
	PerPlatform bool
	// Skeleton lists entries (relative paths) that a fresh image has here
	// and that are not content, such as apt's lock files; one ending in "/"
	// covers its whole subtree (apt's partial/, npm's _logs/).
	Skeleton []string
	// Follows is set on Step.Follow entries: which earlier step's cache
	// this is (e.g. "line 5"); it shows in the notes.
	Follows string
	// PerImage: the manager keeps what it builds in the step's image here
	// (wheels built from sdists, tagged linux_<arch> on glibc and musl
	// alike), so the cache id also names the lineage's base image and only
	// builds on that image share it. Inside another cache of the step it
	// is mounted together with that cache or not at all.
	PerImage bool
}

// FileMount is a small generated file bind-mounted read-only for the step only.
type FileMount struct {
	Manager  string
	Target   string // absolute path of the file inside the container
	Contents []byte
}

// Plan is what to do to one step. A zero Plan (no Managers) means leave it alone.
type Plan struct {
	Managers []string     // detected managers, canonical names, sorted, unique
	Args     []string     // argv to run; equal to Step.Args when unchanged
	Env      []string     // env to run; equal to Step.Env when unchanged
	Caches   []CacheMount // sorted by Target, unique targets
	Files    []FileMount  // sorted by Target, unique targets
	Notes    []string     // human-readable, one per decision ("dropped --no-cache-dir", "skipped pip cache: …")
}

// Options select what Analyze may do.
type Options struct {
	// Managers lists the enabled managers by canonical name; nil enables all.
	Managers []string
}

// Names lists every manager pkgmgr knows, in canonical spelling, sorted.
func Names() []string { return names() }
