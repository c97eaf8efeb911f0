package frontend

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/autocache/autocache/llbtransform"
	"github.com/autocache/autocache/optout"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// Saying why, in the build output: each step autocache looked at and left
// alone gets a build warning with its reason, and the build ends with one
// summary warning ("autocache: 3 steps cached: apt ×2, pip"). Warnings are
// what BuildKit clients already show: buildx lists them at the end of its
// default (tty and plain) output, "- <message>", with the Dockerfile
// excerpt under --debug (printWarnings). They are attached, like
// upstream's lint warnings, to the vertex that loaded the Dockerfile, with
// the step's lines as the range. (progressui's plain printer shows a
// warning only when its vertex is printed again, so buildctl, which does
// not list them at the end, shows them in --progress=rawjson.)
//
// Not a flood: a build with nothing to say says nothing. Steps without a
// package manager, steps that got caches, steps under `# autocache: off`
// (the file says why) and steps with a cache mount of their own (cached
// by hand) get no warning of their own; each reason is sent once per build
// (a multi-platform build solves each step once per platform), and at
// most maxWarnings of them.

// maxWarnings bounds the per-step warnings of one build; `autocache plan`
// lists every step.
const maxWarnings = 10

// reporter gathers what the transforms of one build did.
type reporter struct {
	mu      sync.Mutex
	sent    map[string]bool     // per-step warnings already sent
	more    int                 // left-alone steps beyond maxWarnings
	cached  map[string][]string // step key → what its caches are for
	order   []string            // step keys, first seen first
	alone   map[string]bool
	off     map[string]bool
	vertex  digest.Digest // where the summary goes
	srcInfo *pb.SourceInfo
}

// observe reports the steps of one transform of def (res.Def is what goes
// to the solver) and remembers them for the summary.
func (r *reporter) observe(ctx context.Context, c client.Client, def *pb.Definition, res *llbtransform.Result) {
	info := optout.Dockerfile(def)
	vtx := dockerfileVertex(info)
	var handCached map[digest.Digest]bool
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sent == nil {
		r.sent, r.cached, r.alone, r.off = map[string]bool{}, map[string][]string{}, map[string]bool{}, map[string]bool{}
	}
	for _, s := range res.Steps {
		key, line := stepKey(s)
		seen := r.cached[key] != nil || r.alone[key] || r.off[key]
		switch {
		case s.Off != "":
			r.off[key] = true
		case s.Rewritten:
			r.cached[key] = cachedFor(s)
		case !leftAlone(s):
			continue
		default:
			if handCached == nil {
				handCached = execsWithCaches(res.Def)
			}
			if handCached[s.Digest] {
				continue
			}
			r.alone[key] = true
			short := "autocache: step not cached: " + reason(s)
			if line > 0 {
				short += " (line " + strconv.Itoa(line) + ")"
			}
			if r.sent[short] {
				break
			}
			if len(r.sent) >= maxWarnings {
				if !seen {
					r.more++
				}
				break
			}
			r.sent[short] = true
			at := vtx
			if at == "" {
				at = s.Digest
			}
			opts := client.WarnOpts{Level: 1, SourceInfo: info, Detail: details(s)}
			if info != nil {
				for _, l := range s.Locations.GetLocations() {
					opts.Range = append(opts.Range, l.GetRanges()...)
				}
			}
			_ = c.Warn(ctx, at, short, opts) // a warning that can't be sent must not fail the build
		}
		if !seen {
			r.order = append(r.order, key)
		}
		switch {
		case vtx != "":
			r.vertex, r.srcInfo = vtx, info
		case r.vertex == "":
			r.vertex = s.Digest
		}
	}
}

// summarize sends the build's summary, if there is anything to say.
func (r *reporter) summarize(ctx context.Context, c client.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if msg := r.summary(); msg != "" && r.vertex != "" {
		_ = c.Warn(ctx, r.vertex, msg, client.WarnOpts{Level: 1, SourceInfo: r.srcInfo})
	}
}

// summary is "autocache: 3 steps cached: apt ×2, pip; 1 left alone (…)",
// or "" when no step ran a package manager.
func (r *reporter) summary() string {
	var labels []string
	count := map[string]int{}
	n := 0
	for _, k := range r.order {
		for _, l := range r.cached[k] {
			if count[l] == 0 {
				labels = append(labels, l)
			}
			count[l]++
		}
		if r.cached[k] != nil {
			n++
		}
	}
	if n == 0 && len(r.alone) == 0 && len(r.off) == 0 {
		return ""
	}
	var parts []string
	for _, l := range labels {
		if count[l] > 1 {
			l += " ×" + strconv.Itoa(count[l])
		}
		parts = append(parts, l)
	}
	msg := "autocache: " + plural(n, "step") + " cached"
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, ", ")
	}
	if len(r.alone) > 0 {
		msg += "; " + plural(len(r.alone), "step") + " not cached (the warnings say why"
		if r.more > 0 {
			msg += fmt.Sprintf(", %d not listed: autocache plan shows all", r.more)
		}
		msg += ")"
	}
	if len(r.off) > 0 {
		msg += "; " + plural(len(r.off), "step") + " under `# autocache: off`"
	}
	return msg
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// stepKey identifies a step across the Solves of a build (its Dockerfile
// line, else its digest) and gives its first line.
func stepKey(s llbtransform.Step) (string, int) {
	if line := llbtransform.FirstLine(s.Locations); line > 0 {
		return "line " + strconv.Itoa(line), line
	}
	return string(s.OldDigest), 0
}

// cachedFor is what a rewritten step's caches are for: its managers, or
// the managers of the earlier steps whose caches it follows.
func cachedFor(s llbtransform.Step) []string {
	if len(s.Managers) > 0 {
		return slices.Clone(s.Managers)
	}
	var out []string
	for _, m := range s.Mounts {
		if l := "follows " + m.Manager; m.Manager != "" && m.ID != llbtransform.ProbeID && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	if out == nil {
		out = []string{"other"}
	}
	return out
}

// leftAlone says whether autocache looked at s and left it as it was:
// it runs a package manager (or its analysis failed) and got nothing.
func leftAlone(s llbtransform.Step) bool {
	if s.Rewritten || s.Off != "" {
		return false
	}
	return len(s.Managers) > 0 || slices.ContainsFunc(s.Notes, func(n string) bool { return strings.HasPrefix(n, "left unchanged: ") })
}

// reason picks what a left-alone step's notes say against caching: why a
// cache was skipped or the step left unchanged, else its first note.
func reason(s llbtransform.Step) string {
	var why []string
	for _, n := range s.Notes {
		if strings.Contains(n, "skipped") || strings.HasPrefix(n, "left unchanged: ") || strings.Contains(n, "not caching") ||
			strings.Contains(n, "not in the image's") || strings.Contains(n, "cannot read") {
			why = append(why, n)
		}
	}
	if len(why) == 0 {
		why = s.Notes
	}
	switch len(why) {
	case 0:
		return strings.Join(s.Managers, ", ") + ": nothing to cache"
	case 1:
		return why[0]
	}
	return fmt.Sprintf("%s (and %d more)", why[0], len(why)-1)
}

func details(s llbtransform.Step) [][]byte {
	var out [][]byte
	for _, n := range s.Notes {
		out = append(out, []byte(n))
	}
	return out
}

// dockerfileVertex is the vertex that loaded the Dockerfile: the head of
// the definition its source info carries (dockerui's "load build
// definition"), where upstream attaches its own lint warnings.
func dockerfileVertex(info *pb.SourceInfo) digest.Digest {
	def := info.GetDefinition()
	if def == nil || len(def.Def) == 0 {
		return ""
	}
	var term pb.Op
	if err := term.Unmarshal(def.Def[len(def.Def)-1]); err != nil || len(term.Inputs) == 0 {
		return ""
	}
	return digest.Digest(term.Inputs[0].Digest)
}

// execsWithCaches are the ExecOps of def that mount a cache of their own.
func execsWithCaches(def *pb.Definition) map[digest.Digest]bool {
	out := map[digest.Digest]bool{}
	for _, dt := range def.GetDef() {
		var op pb.Op
		if err := op.Unmarshal(dt); err != nil {
			continue
		}
		for _, m := range op.GetExec().GetMounts() {
			if m.MountType == pb.MountType_CACHE {
				out[digest.FromBytes(dt)] = true
			}
		}
	}
	return out
}
