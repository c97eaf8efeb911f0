package llbtransform

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/autocache/autocache/imagefacts"
	"github.com/autocache/autocache/internal/fspath"
	"github.com/autocache/autocache/pkgmgr"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// A lineage is a chain of root filesystems: an image (or scratch), then each
// RUN, COPY or merge built on the previous one, across stages (FROM stage).
// Two rules follow it:
//
//   - Follow the content: once a step's cache at T holds what upstream
//     would have left in the layer, every later ExecOp of the lineage gets
//     the same mount, so it sees what it would have seen upstream.
//   - Never hide content: a new cache at T is mounted only where nothing
//     the step needs can be at T: not in the base image (Images.Contents),
//     not put there by a COPY or by an earlier step that ran without the
//     cache (or with a secret or SSH mount, which may have put anything
//     anywhere), and not needed by a later step that could not download it
//     again (--network=none) or that a COPY --from reads.

// node is what the lineage rules know about one op of the input.
type node struct {
	op       *pb.Op
	parent   digest.Digest // the op its root filesystem comes from ("" = none)
	source   bool          // a SourceOp: a lineage starts here
	opaque   string        // why the lineage can't be followed through it ("" = it can)
	writes   []write       // content a FileOp or merge puts into the filesystem
	children []digest.Digest
	where    string // "line 5", for notes
	line     int    // its first Dockerfile line (0 = unknown)
}

// write is content that some op puts at path (and under it).
type write struct {
	path     string
	dirOnly  bool   // only creates directories (mkdir): no content at path itself
	notAbove bool   // puts nothing into directories below path that it did not name
	what     string // for notes
}

// hits says whether w may leave content at or under target.
func (w write) hits(target string) bool {
	if w.dirOnly {
		return fspath.Within(w.path, target) && w.path != target
	}
	if w.notAbove {
		return fspath.Within(w.path, target)
	}
	return fspath.Within(w.path, target) || fspath.Within(target, w.path)
}

// lineState is what a lineage holds at one op.
type lineState struct {
	source digest.Digest                // the op it starts from ("" = scratch)
	opaque string                       // why what it starts from can't be read
	active map[string]pkgmgr.CacheMount // caches of earlier steps, by target
	dirty  []write                      // content put there without a cache
	shared bool                         // active is the parent's too (clone)
}

// clone is a copy of s that shares what it holds until it changes it: a
// capped dirty slice copies on append, and active is copied by activate.
// Most ops change neither, and a long lineage would otherwise copy both at
// every op.
func (s *lineState) clone() *lineState {
	c := *s
	c.dirty = s.dirty[:len(s.dirty):len(s.dirty)]
	c.shared = s.active != nil
	return &c
}

// activate makes c, from a step of the lineage, follow from here on.
func (s *lineState) activate(c pkgmgr.CacheMount) {
	if s.active == nil || s.shared {
		s.active, s.shared = maps.Clone(s.active), false
		if s.active == nil {
			s.active = map[string]pkgmgr.CacheMount{}
		}
	}
	s.active[c.Target] = c
}

func (s *lineState) follows() []pkgmgr.CacheMount {
	var out []pkgmgr.CacheMount
	for _, k := range slices.Sorted(maps.Keys(s.active)) {
		out = append(out, s.active[k])
	}
	return out
}

// lineageNodes finds every op's place in its lineage.
func lineageNodes(ops []decodedOp, def *pb.Definition) map[digest.Digest]*node {
	nodes := make(map[digest.Digest]*node, len(ops))
	steps := 0
	for _, o := range ops {
		n := &node{op: o.op}
		nodes[o.dgst] = n
		if line := FirstLine(sourceLocations(def, string(o.dgst))); line > 0 {
			n.where, n.line = fmt.Sprintf("line %d", line), line
		}
		in := opInputs(o.op.Inputs)
		switch x := o.op.Op.(type) {
		case *pb.Op_Source:
			n.source = true
		case *pb.Op_Exec:
			steps++
			if n.where == "" {
				n.where = fmt.Sprintf("step %d", steps)
			}
			n.execNode(x.Exec, in, nodes)
		case *pb.Op_File:
			n.fileNode(x.File, in, nodes)
		case *pb.Op_Merge:
			n.mergeNode(x.Merge, in, nodes)
		default:
			n.opaque = "it is built by an operation we can't follow"
		}
		if n.parent != "" {
			if p := nodes[n.parent]; p != nil {
				p.children = append(p.children, o.dgst)
			} else {
				n.opaque = "bad input"
			}
		}
	}
	return nodes
}

// opInputs are an op's inputs.
type opInputs []*pb.Input

// digest is what input i is: "" for scratch (i < 0); ok=false for none.
func (in opInputs) digest(i int64) (digest.Digest, bool) {
	if i < 0 {
		return "", true // scratch
	}
	if i >= int64(len(in)) {
		return "", false
	}
	return digest.Digest(in[i].Digest), true
}

// execNode: a step's root filesystem comes from the mount at /.
func (n *node) execNode(ex *pb.ExecOp, in opInputs, nodes map[digest.Digest]*node) {
	root := rootfsMount(ex)
	if root == nil {
		n.opaque = "the step has no root filesystem"
		return
	}
	d, ok := in.digest(root.Input)
	if !ok {
		n.opaque = "bad input"
		return
	}
	n.parent = d
	if p := nodes[d]; p != nil && p.op.GetExec() != nil {
		if pr := rootfsMount(p.op.GetExec()); pr == nil || in[root.Input].Index != pr.Output {
			n.opaque = "it starts from another mount of a step"
		}
	}
}

// fileNode: a FileOp builds on the input its actions start from.
func (n *node) fileNode(f *pb.FileOp, in opInputs, nodes map[digest.Digest]*node) {
	// Files from the build context: the user's sources, not caches.
	fromContext := func(i int64) bool {
		d, ok := in.digest(i)
		src := nodes[d]
		return ok && d != "" && src != nil && strings.HasPrefix(src.op.GetSource().GetIdentifier(), "local://")
	}
	base, ws, ok := fileChain(f, int64(len(in)), fromContext)
	if !ok {
		n.opaque = "a file operation we can't follow"
		return
	}
	n.parent, _ = in.digest(base)
	n.writes = describe(ws, n.where)
}

// mergeNode: a merge builds on its first input; the others are layers
// on top (COPY --link: FileOps on scratch).
func (n *node) mergeNode(m *pb.MergeOp, in opInputs, nodes map[digest.Digest]*node) {
	ins := m.Inputs
	if len(ins) == 0 {
		return
	}
	if d, ok := in.digest(ins[0].Input); ok {
		n.parent = d
	} else {
		n.opaque = "bad input"
	}
	for _, mi := range ins[1:] {
		d, ok := in.digest(mi.Input)
		l := nodes[d]
		var ws []write
		if ok && l != nil && l.op.GetFile() != nil && l.parent == "" && l.opaque == "" {
			ws = l.writes
		} else {
			ws = []write{{path: "/", what: "a merged layer"}}
		}
		n.writes = append(n.writes, describe(ws, n.where)...)
	}
}

func describe(ws []write, where string) []write {
	out := make([]write, len(ws))
	for i, w := range ws {
		if where == "" {
			where = "a file operation"
		}
		out[i] = w
		out[i].what = where + " writes " + w.path
	}
	return out
}

// fileChain follows a FileOp's actions from its output back to the input
// the output is built on (-1 = scratch), and lists what they write.
func fileChain(f *pb.FileOp, nInputs int64, fromContext func(int64) bool) (base int64, ws []write, ok bool) {
	var last *pb.FileAction
	for _, a := range f.Actions {
		if a.Output >= 0 {
			last = a
		}
	}
	for a := last; a != nil; {
		switch x := a.Action.(type) {
		case *pb.FileAction_Copy:
			dest := cleanPath(x.Copy.Dest)
			if fromContext(a.SecondaryInput) {
				// COPY . /home/app is taken not to bring a cache directory
				// along: only what lands at dest or dest/<name> counts.
				ws = append(ws, write{path: dest, notAbove: true},
					write{path: path.Join(dest, path.Base(cleanPath(x.Copy.Src))), notAbove: true})
			} else {
				ws = append(ws, write{path: dest})
			}
		case *pb.FileAction_Mkfile:
			ws = append(ws, write{path: cleanPath(x.Mkfile.Path)})
		case *pb.FileAction_Mkdir:
			ws = append(ws, write{path: cleanPath(x.Mkdir.Path), dirOnly: true})
		case *pb.FileAction_Symlink:
			ws = append(ws, write{path: cleanPath(x.Symlink.Newpath)})
		case *pb.FileAction_Rm:
		default:
			ws = append(ws, write{path: "/"})
		}
		switch i := a.Input; {
		case i < nInputs:
			return i, ws, i >= -1
		case i-nInputs < int64(len(f.Actions)):
			a = f.Actions[i-nInputs]
		default:
			return 0, nil, false
		}
	}
	return 0, nil, false
}

func cleanPath(p string) string { return path.Join("/", p) }

func rootfsMount(ex *pb.ExecOp) *pb.Mount {
	for _, m := range ex.Mounts {
		if m.Dest == "/" {
			return m
		}
	}
	return nil
}

// FirstLine is the first Dockerfile line of an op (0 when unknown).
func FirstLine(l *pb.Locations) int {
	line := 0
	for _, loc := range l.GetLocations() {
		for _, r := range loc.GetRanges() {
			if n := int(r.GetStart().GetLine()); n > 0 && (line == 0 || n < line) {
				line = n
			}
		}
	}
	return line
}

// inherit is the lineage state an op starts from (a copy it may change).
func (t *transformer) inherit(d digest.Digest) *lineState {
	n := t.nodes[d]
	switch {
	case n == nil:
		return &lineState{opaque: "bad input"}
	case n.opaque != "":
		return &lineState{opaque: n.opaque}
	case n.source:
		return &lineState{source: d}
	case n.parent == "":
		return &lineState{} // scratch
	}
	if p := t.lines[n.parent]; p != nil {
		return p.clone()
	}
	return &lineState{opaque: "bad input"}
}

// baseImage names the image st's lineage starts from, for per-image cache
// ids (imageName; NoImage for scratch).
func (t *transformer) baseImage(st *lineState) string {
	n := t.nodes[st.source]
	if st.source == "" || n == nil {
		return NoImage
	}
	// Parsed once per image, not once per step that starts from it.
	name, ok := t.imageNames[st.source]
	if !ok {
		name = imageName(n.op.GetSource().GetIdentifier())
		t.imageNames[st.source] = name
	}
	return name
}

// refusals answers pkgmgr.Questions.Caches for step d, whose lineage holds
// st: why each new cache must not be mounted (veto), and the content the
// step then writes where one is not. A refusal because the image could not
// be read is one of the step's faults. The base image's directories that
// decide it are listed at once (facts.prefetch): each is a round trip.
func (t *transformer) refusals(ctx context.Context, d digest.Digest, st *lineState, caches []pkgmgr.CacheMount, step *Step) (map[string]string, []write) {
	type verdict struct {
		why          string
		dirty, fault bool
	}
	verdicts := make([]verdict, len(caches))
	var read []string // targets only the image's contents decide
	for i, c := range caches {
		v := &verdicts[i]
		var decided bool
		if v.why, v.dirty, decided = t.vetoBefore(d, st, c); !decided {
			read = append(read, c.Target)
		}
	}
	t.facts.prefetch(ctx, st.source, read)
	refused := map[string]string{}
	var wrote []write
	for i, c := range caches {
		v := &verdicts[i]
		if slices.Contains(read, c.Target) {
			v.why, v.dirty, v.fault = t.vetoByContents(ctx, st, c)
		}
		if v.fault {
			step.Faults = append(step.Faults, v.why)
		}
		if v.dirty {
			wrote = append(wrote, write{path: c.Target, what: v.why})
		}
		if v.why != "" {
			refused[c.Target] = v.why
		}
	}
	return refused, wrote
}

// vetoBefore says why a new cache c must not be mounted on step d, whose
// lineage holds st, and whether the step then leaves content at c.Target,
// as far as it can be told without reading the base image: decided is
// false when only the image's contents at c.Target can tell
// (vetoByContents).
func (t *transformer) vetoBefore(d digest.Digest, st *lineState, c pkgmgr.CacheMount) (why string, dirty, decided bool) {
	target := c.Target
	for _, k := range slices.Sorted(maps.Keys(st.active)) {
		if fspath.Within(k, target) || fspath.Within(target, k) {
			return "inside the cache at " + k + " that follows " + st.active[k].Follows, false, true
		}
	}
	for _, w := range st.dirty {
		if w.hits(target) {
			return w.what, true, true
		}
	}
	if !c.Local {
		if why := t.downstream(d, target); why != "" {
			return why, true, true
		}
	}
	if st.opaque != "" {
		return "cannot tell what the base has there: " + st.opaque, true, true
	}
	if st.source == "" || t.facts.images == nil {
		return "", false, true
	}
	return "", false, false
}

// vetoByContents says why a new cache c must not be mounted over what the
// base image of st has at c.Target, whether the step then leaves content
// there, and whether the reason is that the image could not be read (a
// fault).
func (t *transformer) vetoByContents(ctx context.Context, st *lineState, c pkgmgr.CacheMount) (why string, dirty, fault bool) {
	target := c.Target
	entries, err := t.facts.contents(ctx, st.source, target)
	if errors.Is(err, errors.ErrUnsupported) {
		return "", false, false
	}
	if err != nil {
		return "cannot read " + target + " in the base image: " + err.Error(), true, true
	}
	for _, e := range entries {
		if !skeletal(path.Clean(e), c.Skeleton) {
			return target + " has content in the base image (" + e + "); not cached", true, false
		}
	}
	return "", false, false
}

// downstream says why caching target from step d on would break a later
// step of its lineage: one that runs without network (if BuildKit dropped
// the cache, it could not download the content again), one whose layers a
// COPY --from reads there, or one that would not see what a COPY put there.
func (t *transformer) downstream(d digest.Digest, target string) string {
	type item struct {
		d       digest.Digest
		written string // a FileOp after d wrote into target
	}
	var stack []item
	push := func(from digest.Digest, written string) {
		ch := t.nodes[from].children
		for i := len(ch) - 1; i >= 0; i-- {
			stack = append(stack, item{ch[i], written})
		}
	}
	push(d, "")
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := t.nodes[it.d]
		if ex := n.op.GetExec(); ex != nil {
			for _, k := range t.keep[it.d] {
				if fspath.Within(k, target) || fspath.Within(target, k) {
					return "a later stage reads " + k + " from " + n.where + "'s layers"
				}
			}
			covered := false
			for _, m := range ex.Mounts {
				if m.Dest != "/" && fspath.Within(target, path.Clean(m.Dest)) {
					covered = true // it sees its own mount there, as upstream
				}
			}
			if why := t.off(it.d); !covered && why != "" {
				return n.where + " is left alone (" + why + ") and would not see it under the cache"
			}
			if !covered && ex.Network == pb.NetMode_NONE {
				return n.where + " runs with --network=none and could not download it again"
			}
			if !covered && it.written != "" {
				return it.written + " and " + n.where + " would not see it under the cache"
			}
		}
		written := it.written
		for _, w := range n.writes {
			if written == "" && w.hits(target) {
				written = w.what
			}
		}
		push(it.d, written)
	}
	return ""
}

// skeletal says whether entry is in skel (pkgmgr.CacheMount.Skeleton).
func skeletal(entry string, skel []string) bool {
	for _, s := range skel {
		if dir, tree := strings.CutSuffix(s, "/"); entry == s || tree && fspath.Within(entry, dir) {
			return true
		}
	}
	return false
}

// release is the os-release of the image st's lineage starts from (facts),
// and a note if it could not be read. Scratch, a lineage we can't follow
// and no Images are unknown.
func (t *transformer) release(ctx context.Context, st *lineState) (imagefacts.OSRelease, string) {
	if t.facts.images == nil || st.opaque != "" || st.source == "" {
		return imagefacts.OSRelease{}, ""
	}
	return t.facts.release(ctx, st.source)
}
