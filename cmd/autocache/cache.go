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
	export := args[0] == "export"
	// containerd's content store and resolver log at info/warning level
	// (fsverity, fetch retries); errors reach the user through ours.
	_ = log.SetLevel("error")
	fs := flag.NewFlagSet("cache "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, cacheUsage) }
	var conn cachesync.Conn
	fs.StringVar(&conn.Addr, "addr", "", "builder address (default $BUILDKIT_HOST)")
	fs.StringVar(&conn.TLSDir, "tlsdir", "", "directory with ca.pem, cert.pem, key.pem")
	fs.StringVar(&conn.CACert, "tlscacert", "", "CA certificate")
	fs.StringVar(&conn.Cert, "tlscert", "", "client certificate")
	fs.StringVar(&conn.Key, "tlskey", "", "client key")
	fs.StringVar(&conn.ServerName, "tlsservername", "", "server name for TLS")
	var loc string
	if export {
		fs.StringVar(&loc, "to", "", "destination")
	} else {
		fs.StringVar(&loc, "from", "", "source")
	}
	var ids, metas repeated
	fs.Var(&ids, "id", "cache id (repeatable)")
	fs.Var(&metas, "metadata-file", "build metadata file (repeatable)")
	dockerfile := fs.String("dockerfile", "", "Dockerfile whose caches to move")
	target := fs.String("target", "", "stage (with --dockerfile)")
	platform := fs.String("platform", "", "platform (with --dockerfile; default: the builder's)")
	bargs := buildArgs{}
	fs.Var(bargs, "build-arg", "build argument K=V (with --dockerfile; repeatable)")
	image := fs.String("image", os.Getenv("AUTOCACHE_IMAGE"), "autocache image")
	maxSize := fs.String("max-size", "", "total size bound")
	progress := fs.String("progress", "auto", "progress output")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "autocache cache %s: %v\n", args[0], err)
		return code
	}
	if fs.NArg() > 0 {
		return fail(2, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if loc == "" {
		return fail(2, fmt.Errorf("missing %s", map[bool]string{true: "--to DEST", false: "--from SRC"}[export]))
	}
	if *dockerfile == "" && (*target != "" || *platform != "" || len(bargs) > 0) {
		return fail(2, fmt.Errorf("--build-arg, --platform and --target go with --dockerfile"))
	}
	opt := cachesync.Options{Location: loc, Image: *image}
	opt.IDs = ids
	if *maxSize != "" {
		n, err := cachesync.ParseSize(*maxSize)
		if err != nil {
			return fail(2, fmt.Errorf("--max-size: %w", err))
		}
		opt.MaxSize = n
	}
	for _, m := range metas {
		b, err := os.ReadFile(m)
		if err != nil {
			return fail(1, err)
		}
		rep, err := cacheinfo.ParseMetadata(b)
		if err != nil {
			return fail(1, fmt.Errorf("%s: %w", m, err))
		}
		if opt.Selection.Image == "" {
			opt.Selection.Image = rep.Image
		}
		opt.Caches = append(opt.Caches, rep.Caches...)
		if opt.Caches == nil {
			opt.Caches = []cacheinfo.Cache{}
		}
	}
	if *dockerfile != "" {
		dt, name, err := readDockerfile(*dockerfile, nil)
		if err != nil {
			return fail(1, err)
		}
		opts := map[string]string{}
		for k, v := range bargs {
			opts["build-arg:"+k] = v
		}
		cfg, err := frontend.ParseConfig(opts)
		if err != nil {
			return fail(2, err)
		}
		if cfg.Off {
			cfg.Managers = []string{}
		}
		opt.Plan = func(ctx context.Context, r llb.ImageMetaResolver, builderPlatform string) ([]cacheinfo.Cache, error) {
			p := *platform
			if p == "" {
				p = builderPlatform
			}
			rep, err := plan.Make(ctx, dt, plan.Options{Filename: name, Target: *target, BuildArgs: bargs, Platform: p,
				Managers: cfg.Managers, Scope: cfg.Scope, Warn: stderr, Resolver: r})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return rep.Caches, nil
		}
	}
	b, err := cachesync.Connect(ctx, conn)
	if err != nil {
		return fail(1, err)
	}
	defer b.Close()
	p, err := cachesync.NewProgress(stderr, *progress)
	if err != nil {
		return fail(2, fmt.Errorf("--progress: %w", err))
	}
	opt.Progress = p
	var sum *cachesync.Summary
	if export {
		sum, err = cachesync.Export(ctx, b, opt)
	} else {
		sum, err = cachesync.Import(ctx, b, opt)
	}
	p.Stop()
	// A failed export wrote nothing; a failed import may have moved some.
	if sum != nil && (err == nil || !export) && (len(sum.Moved) > 0 || len(sum.Skipped) > 0 || len(sum.Failed) > 0) {
		sum.Print(stdout)
	}
	if err != nil {
		return fail(1, err)
	}
	return 0
}
