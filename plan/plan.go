// Package plan reports what the autocache frontend would do to a Dockerfile,
// without a daemon: it converts the Dockerfile with upstream's dockerfile2llb,
// runs the same llbtransform as the frontend, and maps each ExecOp back to
// its RUN instruction.
package plan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/autocache/autocache/cacheinfo"
	"github.com/autocache/autocache/llbtransform"
	"github.com/autocache/autocache/optout"
	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/imagemetaresolver"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Options are the plan command's inputs.
type Options struct {
	Filename  string            // shown in messages; "Dockerfile" if empty
	Target    string            // stage to build; "" = last
	BuildArgs map[string]string // --build-arg K=V
	Platform  string            // e.g. "linux/arm64"; "" = this machine's
	Offline   bool              // give every base image an empty config
	Managers  []string          // nil = all
	Scope     string            // AUTOCACHE_SCOPE, validated by frontend.ParseConfig
	Warn      io.Writer         // where resolver failures are reported (may be nil)
	// Resolver resolves base-image configs instead of their registries
	// (e.g. a builder's, which knows its mirrors); nil: the registries.
	// Ignored with Offline.
	Resolver llb.ImageMetaResolver
}

// Report is the stable JSON contract of `autocache plan --format json`.
type Report struct {
	Steps  []Step  `json:"steps"`
	Stages []Stage `json:"stages"`
	// Caches are the cache mounts the steps get, deduplicated, as the
	// frontend reports them in frontend.autocache.caches.
	Caches []cacheinfo.Cache `json:"caches"`

	ns string // BUILDKIT_CACHE_MOUNT_NS
}

// Stage lists, for one stage with RUN steps, the directories that autocache
// backs with a cache in any of its steps: what those steps write there stays
// out of the image. It is built from the steps' added mounts, so it says what
// the transform did, not what a table expects.
type Stage struct {
	Stage  string   `json:"stage"`  // stage name, or its index when unnamed
	Cached []string `json:"cached"` // cache-backed directories, sorted
}

// Step is one RUN instruction of the target's build graph.
type Step struct {
	Line     int      `json:"line"`     // 1-based first line of the RUN instruction
	Stage    string   `json:"stage"`    // stage name, or its index when unnamed
	Managers []string `json:"managers"` // detected managers
	Args     []string `json:"args"`     // argv as it will run
	Env      []string `json:"env"`      // environment as it will run
	User     string   `json:"user"`     // "" = image default
	Mounts   []Mount  `json:"mounts"`   // only the mounts autocache adds
	Notes    []string `json:"notes"`
}

// Mount is an added mount. Cache mounts carry id, sharing, uid and gid;
// binds of generated files carry readonly.
type Mount struct {
	Type     string `json:"type"`
	Target   string `json:"target"`
	ID       string `json:"id,omitempty"`
	Sharing  string `json:"sharing,omitempty"`
	UID      *int   `json:"uid,omitempty"`
	GID      *int   `json:"gid,omitempty"`
	Readonly bool   `json:"readonly,omitempty"`
	Follows  string `json:"follows,omitempty"` // an earlier step's cache this step also gets ("line 5")
}

// Make converts the Dockerfile and reports every RUN step of the target.
func Make(ctx context.Context, dockerfile []byte, opt Options) (*Report, error) {
	_, tr, err := Transform(ctx, dockerfile, opt)
	if err != nil {
		return nil, err
	}
	stages := stageLines(dockerfile)
	rep := &Report{Steps: []Step{}}
	for _, s := range tr.Steps {
		line := llbtransform.FirstLine(s.Locations)
		st := Step{
			Line:     line,
			Stage:    stages.at(line),
			Managers: nonNil(s.Managers),
			Args:     nonNil(s.Args),
			Env:      nonNil(s.Env),
			User:     s.User,
			Mounts:   []Mount{},
			Notes:    nonNil(s.Notes),
		}
		for _, m := range s.Mounts {
			pm := Mount{Type: m.Type, Target: m.Target, ID: m.ID, Sharing: m.Sharing, Readonly: m.Readonly, Follows: m.Follows}
			if m.Type == "cache" {
				uid, gid := m.UID, m.GID
				pm.UID, pm.GID = &uid, &gid
			}
			st.Mounts = append(st.Mounts, pm)
		}
		rep.Steps = append(rep.Steps, st)
	}
	sort.SliceStable(rep.Steps, func(i, j int) bool { return rep.Steps[i].Line < rep.Steps[j].Line })
	rep.Stages = cachedByStage(rep.Steps)
	rep.Caches = cacheinfo.FromSteps(tr.Steps)
	rep.ns = opt.BuildArgs["BUILDKIT_CACHE_MOUNT_NS"]
	return rep, nil
}

// Convert converts the Dockerfile for the target as upstream's builder
// does (dockerfile2llb), resolving base images as opt says.
func Convert(ctx context.Context, dockerfile []byte, opt Options) (*pb.Definition, error) {
	if opt.Filename == "" {
		opt.Filename = "Dockerfile"
	}
	cfg := dockerui.Config{BuildArgs: opt.BuildArgs, Target: opt.Target, CacheIDNamespace: opt.BuildArgs["BUILDKIT_CACHE_MOUNT_NS"]}
	// Like builder.Build: the builder (this machine) builds for the target
	// platform; Dockerfile2LLB reads TargetPlatform, not cfg.TargetPlatforms.
	cfg.BuildPlatforms = []ocispecs.Platform{platforms.DefaultSpec()}
	var target *ocispecs.Platform
	if opt.Platform != "" {
		p, err := platforms.Parse(opt.Platform)
		if err != nil {
			return nil, fmt.Errorf("--platform: %w", err)
		}
		p = platforms.Normalize(p)
		cfg.TargetPlatforms = []ocispecs.Platform{p}
		target = &p
	}
	var resolver llb.ImageMetaResolver = emptyConfigResolver{}
	if !opt.Offline {
		var next llb.ImageMetaResolver = imagemetaresolver.Default()
		if opt.Resolver != nil {
			next = opt.Resolver
		}
		resolver = &fallbackResolver{next: next, warn: opt.Warn}
	}
	src := llb.NewSourceMap(nil, opt.Filename, "Dockerfile", dockerfile)
	// The LLB capabilities of the daemon autocache is built for (v0.34.2
	// has them all), as the gateway gives them to the frontend: they
	// decide e.g. COPY --link (a merge) and read-write binds. (Without
	// them dockerfile2llb also dereferences nil for `--mount=type=bind,rw`.)
	caps := pb.Caps.CapSet(pb.Caps.All())
	res, err := dockerfile2llb.Dockerfile2LLB(ctx, dockerfile, dockerfile2llb.ConvertOpt{
		Config:         cfg,
		SourceMap:      src,
		MetaResolver:   resolver,
		TargetPlatform: target,
		LLBCaps:        &caps,
	})
	if err != nil {
		return nil, withSource(err, src)
	}
	def, err := res.State.Marshal(ctx)
	if err != nil {
		return nil, err
	}
	return def.ToPB(), nil
}

// Transform converts the Dockerfile (Convert) and runs the frontend's
// transform over it, with the Dockerfile's own settings: what the
// frontend would solve, as far as it can be known without a daemon.
// input is upstream's definition.
func Transform(ctx context.Context, dockerfile []byte, opt Options) (input *pb.Definition, _ *llbtransform.Result, _ error) {
	if opt.Filename == "" {
		opt.Filename = "Dockerfile"
	}
	input, err := Convert(ctx, dockerfile, opt)
	if err != nil {
		return nil, nil, err
	}
	topt, err := fileSettings(dockerfile, opt)
	if err != nil {
		return nil, nil, err
	}
	topt.CacheNS = opt.BuildArgs["BUILDKIT_CACHE_MOUNT_NS"]
	tr, err := llbtransform.Transform(ctx, input, topt)
	if err != nil {
		return nil, nil, err
	}
	return input, tr, nil
}

// fileSettings narrows the options by what the Dockerfile says about
// autocache (package optout), as the frontend does: the directive
// `# autocache=off` or `managers=…` and `# autocache: off` above a RUN.
func fileSettings(dockerfile []byte, opt Options) (llbtransform.Options, error) {
	f, err := optout.Read(dockerfile)
	if err != nil {
		return llbtransform.Options{}, optout.WithSource(err, &pb.SourceInfo{Filename: opt.Filename, Language: "Dockerfile", Data: dockerfile})
	}
	off, managers := f.Narrow(false, opt.Managers)
	if off && opt.Warn != nil {
		fmt.Fprintf(opt.Warn, "autocache: `# autocache=off` on line %d: the frontend changes nothing\n", f.Line)
	}
	return llbtransform.Options{Scope: opt.Scope, Managers: managers, Off: f.LeftAlone()}, nil
}

// cachedByStage gathers the steps' cache mounts per stage, stages in the
// order of their first step; a mount inside another listed one (a
// per-image cache of built wheels) is covered by it.
func cachedByStage(steps []Step) []Stage {
	out := []Stage{}
	index := map[string]int{}
	for _, s := range steps {
		i, ok := index[s.Stage]
		if !ok {
			i = len(out)
			index[s.Stage] = i
			out = append(out, Stage{Stage: s.Stage, Cached: []string{}})
		}
		for _, m := range s.Mounts {
			if m.Type == "cache" && !slices.Contains(out[i].Cached, m.Target) {
				out[i].Cached = append(out[i].Cached, m.Target)
			}
		}
	}
	for i, st := range out {
		sort.Strings(st.Cached)
		all := slices.Clone(st.Cached)
		out[i].Cached = slices.DeleteFunc(st.Cached, func(d string) bool {
			return slices.ContainsFunc(all, func(o string) bool { return strings.HasPrefix(d, o+"/") })
		})
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteCacheMap writes the report's caches as a buildkit-cache-dance v3
// cache-map (cacheinfo.CacheMap), indented JSON.
func (r *Report) WriteCacheMap(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(cacheinfo.CacheMap(r.Caches, r.ns))
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer, filename string) error {
	var b strings.Builder
	n := 0
	for _, s := range r.Steps {
		off := slices.ContainsFunc(s.Notes, func(n string) bool { return strings.HasPrefix(n, "left alone: ") })
		if len(s.Managers) == 0 && len(s.Mounts) == 0 && !off {
			continue
		}
		what := strings.Join(s.Managers, ", ")
		switch {
		case off:
			what = "(left alone)"
		case len(s.Managers) == 0:
			what = "(no package manager: caches of earlier steps)"
		default:
			n++
		}
		fmt.Fprintf(&b, "%s:%d  [%s]  %s\n", filename, s.Line, s.Stage, what)
		for _, m := range s.Mounts {
			switch m.Type {
			case "cache":
				fmt.Fprintf(&b, "    + cache %s  (id=%s, sharing=%s, uid=%d, gid=%d)", m.Target, m.ID, m.Sharing, *m.UID, *m.GID)
				if m.Follows != "" {
					fmt.Fprintf(&b, "  follows %s", m.Follows)
				}
				b.WriteString("\n")
			default:
				fmt.Fprintf(&b, "    + file  %s  (generated, read-only, this step only)\n", m.Target)
			}
		}
		for _, note := range s.Notes {
			fmt.Fprintf(&b, "    · %s\n", note)
		}
	}
	fmt.Fprintf(&b, "%d of %d RUN steps use a package manager.\n", n, len(r.Steps))
	if n > 0 {
		b.WriteString("Cache-backed directories (what steps write there stays out of the image):\n")
		for _, st := range r.Stages {
			if len(st.Cached) > 0 {
				fmt.Fprintf(&b, "    [%s]  %s\n", st.Stage, strings.Join(st.Cached, "  "))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// withSource adds to a conversion error the Dockerfile lines it points at,
// as upstream's builder does (builder.wrapSource): not every message says
// its line.
func withSource(err error, sm *llb.SourceMap) error {
	var le *parser.LocationError
	if !errors.As(err, &le) {
		return err
	}
	for _, ranges := range le.Locations {
		s := &errdefs.Source{Info: &pb.SourceInfo{Data: sm.Data, Filename: sm.Filename, Language: sm.Language}}
		for _, r := range ranges {
			s.Ranges = append(s.Ranges, &pb.Range{
				Start: &pb.Position{Line: int32(r.Start.Line), Character: int32(r.Start.Character)},
				End:   &pb.Position{Line: int32(r.End.Line), Character: int32(r.End.Character)},
			})
		}
		err = errdefs.WithSource(err, s)
	}
	return err
}

// stages maps lines to stage names.
type stages []stageStart

type stageStart struct {
	line int
	name string
}

func stageLines(dockerfile []byte) stages {
	ast, err := parser.Parse(strings.NewReader(string(dockerfile)))
	if err != nil {
		return nil
	}
	sts, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return nil
	}
	var out stages
	for i, s := range sts {
		name := s.Name
		if name == "" {
			name = strconv.Itoa(i)
		}
		line := 0
		if len(s.Location) > 0 {
			line = s.Location[0].Start.Line
		}
		out = append(out, stageStart{line: line, name: name})
	}
	return out
}

func (s stages) at(line int) string {
	name := ""
	for _, st := range s {
		if st.line <= line {
			name = st.name
		}
	}
	return name
}

// emptyConfig is the config of an image that can't be resolved: empty but
// for one layer, since upstream converts an image without layers to
// scratch, and per-image cache ids name the image.
var emptyConfig = []byte(`{"rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("0", 64) + `"]}}`)

// emptyConfigResolver gives every image an empty config (--offline).
type emptyConfigResolver struct{}

func (emptyConfigResolver) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	return ref, "", emptyConfig, nil
}

// fallbackResolver asks the registry and, when it can't be reached, says so
// and goes on with an empty config.
type fallbackResolver struct {
	next llb.ImageMetaResolver
	warn io.Writer
}

func (f *fallbackResolver) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	r, d, dt, err := f.next.ResolveImageConfig(ctx, ref, opt)
	if err == nil {
		return r, d, dt, nil
	}
	if f.warn != nil {
		fmt.Fprintf(f.warn, "autocache: cannot resolve %s (%v); using an empty image config\n", ref, err)
	}
	return ref, "", emptyConfig, nil
}
