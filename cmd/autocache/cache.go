package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/autocache/autocache/cacheinfo"
	"github.com/autocache/autocache/cachesync"
	"github.com/autocache/autocache/frontend"
	"github.com/autocache/autocache/plan"
	"github.com/containerd/log"
	"github.com/moby/buildkit/client/llb"
)

const cacheUsage = `usage: autocache cache export --to DEST [options]
       autocache cache import --from SRC [options]

DEST, SRC: a directory (one archive per cache and autocache-caches.json),
oci-layout://DIR[:TAG] or docker-image://REF (one layer per cache).

Which caches (default: export every cache of autocache's on the builder,
import everything in SRC):
  --id ID                 a cache id (repeatable)
  --metadata-file FILE    the caches a build reported (buildctl/buildx --metadata-file; repeatable)
  --dockerfile PATH       the caches autocache gives a Dockerfile, with
  --build-arg K=V, --platform P, --target STAGE   as for autocache plan

Options:
  --image REF             the autocache image to run the copies in (default $AUTOCACHE_IMAGE,
                          else the image the metadata or SRC names)
  --max-size SIZE         leave out the largest caches beyond SIZE in all (e.g. 2GB)
  --progress MODE         auto, plain, tty, quiet or rawjson (default auto)
  --addr ADDR             the builder (default $BUILDKIT_HOST): unix://, tcp://,
                          docker-container://, kube-pod://, ssh://
  --tlsdir DIR, --tlscacert F, --tlscert F, --tlskey F, --tlsservername NAME
`

type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func runCache(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "export" && args[0] != "import") {
		fmt.Fprint(stderr, cacheUsage)
		return 2
	}
	// containerd's content store and resolver log at info/warning level
	// (fsverity, fetch retries); errors reach the user through ours.
	_ = log.SetLevel("error")
	c := &cacheCmd{export: args[0] == "export", bargs: buildArgs{}}
	fs := c.flags(args[0], stderr)
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	code, err := 2, error(nil)
	if fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	} else {
		var opt cachesync.Options
		if opt, code, err = c.options(stderr); err == nil {
			code, err = c.run(ctx, opt, stdout, stderr)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "autocache cache %s: %v\n", args[0], err)
		return code
	}
	return 0
}

// cacheCmd is what `autocache cache export|import` was asked to do.
type cacheCmd struct {
	export                       bool
	conn                         cachesync.Conn
	loc                          string // --to or --from
	ids, metas                   repeated
	dockerfile, target, platform string
	bargs                        buildArgs
	image, maxSize, progress     string
}

func (c *cacheCmd) flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("cache "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, cacheUsage) }
	fs.StringVar(&c.conn.Addr, "addr", "", "builder address (default $BUILDKIT_HOST)")
	fs.StringVar(&c.conn.TLSDir, "tlsdir", "", "directory with ca.pem, cert.pem, key.pem")
	fs.StringVar(&c.conn.CACert, "tlscacert", "", "CA certificate")
	fs.StringVar(&c.conn.Cert, "tlscert", "", "client certificate")
	fs.StringVar(&c.conn.Key, "tlskey", "", "client key")
	fs.StringVar(&c.conn.ServerName, "tlsservername", "", "server name for TLS")
	if c.export {
		fs.StringVar(&c.loc, "to", "", "destination")
	} else {
		fs.StringVar(&c.loc, "from", "", "source")
	}
	fs.Var(&c.ids, "id", "cache id (repeatable)")
	fs.Var(&c.metas, "metadata-file", "build metadata file (repeatable)")
	fs.StringVar(&c.dockerfile, "dockerfile", "", "Dockerfile whose caches to move")
	fs.StringVar(&c.target, "target", "", "stage (with --dockerfile)")
	fs.StringVar(&c.platform, "platform", "", "platform (with --dockerfile; default: the builder's)")
	fs.Var(c.bargs, "build-arg", "build argument K=V (with --dockerfile; repeatable)")
	fs.StringVar(&c.image, "image", os.Getenv("AUTOCACHE_IMAGE"), "autocache image")
	fs.StringVar(&c.maxSize, "max-size", "", "total size bound")
	fs.StringVar(&c.progress, "progress", "auto", "progress output")
	return fs
}

// options turns the flags into cachesync's options: which caches (ids, the
// metadata files' caches, a Dockerfile's plan), where, and how much. The
// code is 2 for a usage error and 1 for a file that could not be read.
func (c *cacheCmd) options(stderr io.Writer) (cachesync.Options, int, error) {
	opt := cachesync.Options{Location: c.loc, Image: c.image}
	opt.IDs = c.ids
	if c.loc == "" {
		return opt, 2, fmt.Errorf("missing %s", map[bool]string{true: "--to DEST", false: "--from SRC"}[c.export])
	}
	if c.dockerfile == "" && (c.target != "" || c.platform != "" || len(c.bargs) > 0) {
		return opt, 2, fmt.Errorf("--build-arg, --platform and --target go with --dockerfile")
	}
	if c.maxSize != "" {
		n, err := cachesync.ParseSize(c.maxSize)
		if err != nil {
			return opt, 2, fmt.Errorf("--max-size: %w", err)
		}
		opt.MaxSize = n
	}
	for _, m := range c.metas {
		b, err := os.ReadFile(m)
		if err != nil {
			return opt, 1, err
		}
		rep, err := cacheinfo.ParseMetadata(b)
		if err != nil {
			return opt, 1, fmt.Errorf("%s: %w", m, err)
		}
		if opt.Selection.Image == "" {
			opt.Selection.Image = rep.Image
		}
		opt.Caches = append(opt.Caches, rep.Caches...)
		if opt.Caches == nil {
			opt.Caches = []cacheinfo.Cache{}
		}
	}
	if c.dockerfile != "" {
		code, err := c.planCaches(&opt, stderr)
		if err != nil {
			return opt, code, err
		}
	}
	return opt, 0, nil
}

// planCaches selects the caches autocache gives the Dockerfile, planned
// once the builder's platform is known.
func (c *cacheCmd) planCaches(opt *cachesync.Options, stderr io.Writer) (int, error) {
	dt, name, err := readDockerfile(c.dockerfile, nil)
	if err != nil {
		return 1, err
	}
	opts := map[string]string{}
	for k, v := range c.bargs {
		opts["build-arg:"+k] = v
	}
	cfg, err := frontend.ParseConfig(opts)
	if err != nil {
		return 2, err
	}
	if cfg.Off {
		cfg.Managers = []string{}
	}
	opt.Plan = func(ctx context.Context, r llb.ImageMetaResolver, builderPlatform string) ([]cacheinfo.Cache, error) {
		p := c.platform
		if p == "" {
			p = builderPlatform
		}
		rep, err := plan.Make(ctx, dt, plan.Options{Filename: name, Target: c.target, BuildArgs: c.bargs, Platform: p,
			Managers: cfg.Managers, Scope: cfg.Scope, Warn: stderr, Resolver: r})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return rep.Caches, nil
	}
	return 0, nil
}

// run connects to the builder and moves the caches; it prints what moved.
func (c *cacheCmd) run(ctx context.Context, opt cachesync.Options, stdout, stderr io.Writer) (int, error) {
	b, err := cachesync.Connect(ctx, c.conn)
	if err != nil {
		return 1, err
	}
	defer b.Close()
	p, err := cachesync.NewProgress(stderr, c.progress)
	if err != nil {
		return 2, fmt.Errorf("--progress: %w", err)
	}
	opt.Progress = p
	var sum *cachesync.Summary
	if c.export {
		sum, err = cachesync.Export(ctx, b, opt)
	} else {
		sum, err = cachesync.Import(ctx, b, opt)
	}
	p.Stop()
	// A failed export wrote nothing; a failed import may have moved some.
	if sum != nil && (err == nil || !c.export) && (len(sum.Moved) > 0 || len(sum.Skipped) > 0 || len(sum.Failed) > 0) {
		sum.Print(stdout)
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}
