// Command autocache shows what the autocache frontend does to a Dockerfile,
// writes it out in the Dockerfile, and moves autocache's caches between
// builders.
//
//	autocache plan [--offline] [--format text|json|cachemap] [--target STAGE]
//	               [--build-arg K=V]… [--platform P] [PATH|-]
//	autocache rewrite [-w] [--check] [--offline] [--target STAGE]
//	               [--build-arg K=V]… [--platform P] [PATH|-]
//	autocache cache export --to DEST [options]
//	autocache cache import --from SRC [options]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/autocache/autocache/frontend"
	"github.com/autocache/autocache/plan"
	"github.com/moby/buildkit/solver/errdefs"
)

// version is set at link time (-X main.version=…).
var version = "dev"

const usage = `usage: autocache plan [--offline] [--format text|json|cachemap] [--target STAGE]
                      [--build-arg K=V]... [--platform P] [PATH|-]
       autocache rewrite [-w] [--check] [--offline] [--target STAGE]
                      [--build-arg K=V]... [--platform P] [PATH|-]
       autocache cache export --to DEST [options]   (autocache cache --help)
       autocache cache import --from SRC [options]
       autocache version
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "plan":
		return runPlan(ctx, args[1:], stdin, stdout, stderr)
	case "rewrite":
		return runRewrite(ctx, args[1:], stdin, stdout, stderr)
	case "cache":
		return runCache(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "autocache", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "autocache: unknown command %q\n%s", args[0], usage)
	return 2
}

type buildArgs map[string]string

func (b buildArgs) String() string { return "" }
func (b buildArgs) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok {
		// Like docker build: --build-arg K takes K from the environment.
		val, ok = os.LookupEnv(k)
		if !ok {
			return nil
		}
	}
	b[k] = val
	return nil
}

func runPlan(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	offline := fs.Bool("offline", false, "give every base image an empty config instead of asking its registry")
	format := fs.String("format", "text", "output format: text, json or cachemap (a buildkit-cache-dance cache-map)")
	target := fs.String("target", "", "stage to build (default: the last)")
	platform := fs.String("platform", "", "target platform, e.g. linux/arm64")
	bargs := buildArgs{}
	fs.Var(bargs, "build-arg", "build argument K=V (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *format != "text" && *format != "json" && *format != "cachemap" {
		fmt.Fprintf(stderr, "autocache plan: --format must be text, json or cachemap, not %q\n", *format)
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	path := "."
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	dt, name, err := readDockerfile(path, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "autocache plan: %v\n", err)
		return 1
	}
	// The same build args as the frontend, read by the same code.
	opts := map[string]string{}
	for k, v := range bargs {
		opts["build-arg:"+k] = v
	}
	cfg, err := frontend.ParseConfig(opts)
	if err != nil {
		fmt.Fprintf(stderr, "autocache plan: %v\n", err)
		return 2
	}
	if cfg.Off {
		fmt.Fprintln(stderr, "autocache plan: AUTOCACHE=off: the frontend changes nothing")
		cfg.Managers = []string{}
	}
	rep, err := plan.Make(ctx, dt, plan.Options{
		Filename:  name,
		Target:    *target,
		BuildArgs: bargs,
		Platform:  *platform,
		Offline:   *offline,
		Managers:  cfg.Managers,
		Scope:     cfg.Scope,
		Warn:      stderr,
	})
	if err != nil {
		printError(stderr, name, err)
		return 1
	}
	switch *format {
	case "json":
		err = rep.WriteJSON(stdout)
	case "cachemap":
		if ns := bargs["BUILDKIT_CACHE_MOUNT_NS"]; ns != "" {
			fmt.Fprintf(stderr, "autocache plan: the ids are relative to BUILDKIT_CACHE_MOUNT_NS=%s: a tool whose builds don't set it reaches other caches\n", ns)
		}
		err = rep.WriteCacheMap(stdout)
	default:
		err = rep.WriteText(stdout, name)
	}
	if err != nil {
		fmt.Fprintf(stderr, "autocache plan: %v\n", err)
		return 1
	}
	return 0
}

// readDockerfile reads PATH (a file, or a directory holding a Dockerfile) or
// standard input for "-".
func readDockerfile(path string, stdin io.Reader) ([]byte, string, error) {
	if path == "-" {
		dt, err := io.ReadAll(stdin)
		return dt, "Dockerfile", err
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "Dockerfile")
	}
	dt, err := os.ReadFile(path)
	return dt, path, err
}

// printError prints a conversion error like BuildKit does: the message with
// the Dockerfile line, then the lines it points at.
func printError(w io.Writer, name string, err error) {
	srcs := errdefs.Sources(err)
	msg := err.Error()
	var se *errdefs.SourceError
	if errors.As(err, &se) && len(se.Ranges) > 0 {
		msg = fmt.Sprintf("%s:%d: %v", name, se.Ranges[0].GetStart().GetLine(), se.Unwrap())
	}
	fmt.Fprintf(w, "autocache plan: %s\n", msg)
	for _, s := range srcs {
		_ = s.Print(w)
	}
}
