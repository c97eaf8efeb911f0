package rewrite

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/autocache/autocache/llbtransform"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/proto"
)

// What "equal" means for two definitions, autocache's (llbtransform over
// upstream's conversion of the original) and upstream's conversion of the
// rewritten Dockerfile: the same ops, op for op from the build's output
// down, with every ExecOp's argv, env, cwd, user, network, security and
// mounts (target, type, cache id, sharing, read-only, selector, output,
// and what is mounted), and every other op's whole content. It ignores:
//
//   - Op digests and the order of an op's inputs and of an ExecOp's
//     mounts: autocache appends mounts and inputs, upstream sorts mounts by
//     target; the executor mounts in target order either way. Digests
//     follow from content, which is compared.
//   - How a generated file is made: autocache mounts it from one FileOp
//     (mkfile on scratch) per step, the rewrite from a stage of heredoc
//     COPYs that all steps share. What is compared is what the step sees:
//     the files at the mount's selector (path, mode, owner, contents). The
//     same goes for a non-root cache's starting directory (a mkdir with
//     owner and mode either way). The generating ops' own digests,
//     platforms and the files' names in the stage differ.
//   - The `local.unique` attribute of the build context's source: a
//     random id upstream gives each conversion (two conversions of the
//     same file differ in it too).
//   - Source locations and op metadata (progress names, caps, the
//     description of each op): the rewritten file has the stage's lines
//     above the first FROM, and its RUN lines carry the flags.
//   - Environment changes, which a Dockerfile can't make for one step: the
//     rewrite writes them as an `unset …; export …;` start of the script;
//     on autocache's side they are written the same way (envPrefix) before
//     comparing, so such a step's argv and env are compared exactly.

// canon is a canonical description of the graph under each op.
type canon struct {
	ops    map[digest.Digest]*pb.Op
	memo   map[digest.Digest]string
	adjust func(digest.Digest, *pb.ExecOp)
	execs  []string // descriptions of the ExecOps, for messages
}

func newCanon(def *pb.Definition, adjust func(digest.Digest, *pb.ExecOp)) *canon {
	return &canon{ops: decode(def), memo: map[digest.Digest]string{}, adjust: adjust}
}

// root is the canonical description of the definition's output.
func (c *canon) root(def *pb.Definition) string {
	if len(def.GetDef()) == 0 {
		return "empty"
	}
	last := def.Def[len(def.Def)-1]
	var term pb.Op
	if err := term.Unmarshal(last); err != nil || len(term.Inputs) != 1 {
		return "bad definition"
	}
	return c.of(digest.Digest(term.Inputs[0].Digest)) + fmt.Sprintf("#%d", term.Inputs[0].Index)
}

func (c *canon) of(d digest.Digest) string {
	if s, ok := c.memo[d]; ok {
		return s
	}
	op := proto.Clone(c.ops[d]).(*pb.Op)
	if op == nil {
		return "missing " + string(d)
	}
	var keys []string
	if ex := op.GetExec(); ex != nil {
		if c.adjust != nil {
			c.adjust(d, ex)
		}
		sort.SliceStable(ex.Mounts, func(i, j int) bool { return ex.Mounts[i].Dest < ex.Mounts[j].Dest })
		for _, m := range ex.Mounts {
			key := "scratch"
			if m.Input >= 0 {
				in := op.Inputs[m.Input]
				if files, ok := c.generated(digest.Digest(in.Digest), in.Index, m.Selector); ok {
					key, m.Selector = "files{"+files+"}", ""
				} else {
					key = c.of(digest.Digest(in.Digest)) + fmt.Sprintf("#%d", in.Index)
				}
			}
			m.Input = -2
			keys = append(keys, key)
		}
		c.execs = append(c.execs, describeExec(ex, keys))
	} else {
		if src := op.GetSource(); src != nil {
			delete(src.Attrs, "local.unique") // random per conversion (see above)
		}
		for _, in := range op.Inputs {
			keys = append(keys, c.of(digest.Digest(in.Digest)))
		}
	}
	op.Inputs = nil
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(op)
	if err != nil {
		return "unmarshalable"
	}
	h := sha256.New()
	h.Write(b)
	for _, k := range keys {
		h.Write([]byte("\x00" + k))
	}
	s := hex.EncodeToString(h.Sum(nil))[:16]
	c.memo[d] = s
	return s
}

func describeExec(ex *pb.ExecOp, keys []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "args=%q env=%q user=%q cwd=%q", ex.Meta.Args, ex.Meta.Env, ex.Meta.User, ex.Meta.Cwd)
	for i, m := range ex.Mounts {
		fmt.Fprintf(&b, "\n    mount %s type=%s ro=%v sel=%q out=%d cache=%v from=%s", m.Dest, m.MountType, m.Readonly, m.Selector, m.Output, m.CacheOpt, keys[i])
	}
	return b.String()
}

// file is an entry of a generated filesystem.
type file struct {
	dir   bool
	mode  int32
	owner string
	data  []byte
}

// generated describes the files at sel of output index of op d, if d
// builds its result from file operations on scratch alone.
func (c *canon) generated(d digest.Digest, index int64, sel string) (string, bool) {
	fs, ok := c.evalFS(d, index)
	if !ok {
		return "", false
	}
	sel = path.Join("/", sel)
	var out []string
	for p, f := range fs {
		if p != sel && !strings.HasPrefix(p, strings.TrimSuffix(sel, "/")+"/") {
			continue
		}
		sum := sha256.Sum256(f.data)
		out = append(out, fmt.Sprintf("%s dir=%v mode=%o owner=%s sha=%x", strings.TrimPrefix(p, sel), f.dir, f.mode, f.owner, sum[:8]))
	}
	if len(out) == 0 {
		return "", false
	}
	sort.Strings(out)
	return strings.Join(out, "; "), true
}

// evalFS evaluates a FileOp chain on scratch (mkfile, mkdir, copy).
func (c *canon) evalFS(d digest.Digest, index int64) (map[string]file, bool) {
	f := c.ops[d].GetFile()
	if f == nil {
		return nil, false
	}
	nIn := int64(len(c.ops[d].Inputs))
	results := map[int64]map[string]file{}
	var state func(i int64) (map[string]file, bool)
	state = func(i int64) (map[string]file, bool) {
		switch {
		case i == -1:
			return map[string]file{}, true
		case i < nIn:
			in := c.ops[d].Inputs[i]
			return c.evalFS(digest.Digest(in.Digest), in.Index)
		}
		r, ok := results[i-nIn]
		return r, ok
	}
	owner := func(o *pb.ChownOpt) string {
		if o == nil {
			return "0:0"
		}
		return fmt.Sprintf("%d:%d", o.GetUser().GetByID(), o.GetGroup().GetByID())
	}
	for ai, a := range f.Actions {
		base, ok := state(a.Input)
		if !ok {
			return nil, false
		}
		fs := map[string]file{}
		for k, v := range base {
			fs[k] = v
		}
		switch x := a.Action.(type) {
		case *pb.FileAction_Mkfile:
			fs[path.Join("/", x.Mkfile.Path)] = file{mode: x.Mkfile.Mode, owner: owner(x.Mkfile.Owner), data: x.Mkfile.Data}
		case *pb.FileAction_Mkdir:
			fs[path.Join("/", x.Mkdir.Path)] = file{dir: true, mode: x.Mkdir.Mode, owner: owner(x.Mkdir.Owner)}
		case *pb.FileAction_Copy:
			src, ok := state(a.SecondaryInput)
			sf, found := src[path.Join("/", x.Copy.Src)]
			if !ok || !found || sf.dir {
				return nil, false
			}
			dest := x.Copy.Dest
			if strings.HasSuffix(dest, "/") {
				dest = path.Join(dest, path.Base(x.Copy.Src))
			}
			if x.Copy.Owner != nil {
				sf.owner = owner(x.Copy.Owner)
			}
			if x.Copy.Mode >= 0 {
				sf.mode = x.Copy.Mode
			}
			fs[path.Join("/", dest)] = sf
		default:
			return nil, false
		}
		results[int64(ai)] = fs
		if a.Output == index {
			return fs, true
		}
	}
	return nil, false
}

// envAdjust writes autocache's environment changes of the rewritten steps
// as the rewrite does, so that the comparison is exact (see above).
func envAdjust(input *pb.Definition, tr *llbtransform.Result) (func(digest.Digest, *pb.ExecOp), error) {
	in := decode(input)
	prefixes := map[digest.Digest]string{}
	envs := map[digest.Digest][]string{}
	for _, s := range tr.Steps {
		if !s.Rewritten {
			continue
		}
		before := in[s.OldDigest].GetExec().GetMeta().GetEnv()
		p, err := envPrefix(before, s.Env)
		if err != nil {
			return nil, err
		}
		if p != "" {
			prefixes[s.Digest], envs[s.Digest] = p, before
		}
	}
	return func(d digest.Digest, ex *pb.ExecOp) {
		if p, ok := prefixes[d]; ok {
			args := slices.Clone(ex.Meta.Args)
			args[len(args)-1] = p + args[len(args)-1]
			ex.Meta.Args, ex.Meta.Env = args, slices.Clone(envs[d])
		}
	}, nil
}

// missing lists what is in a but not in b.
func missing(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
