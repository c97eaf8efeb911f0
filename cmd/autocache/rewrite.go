package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/autocache/autocache/frontend"
	"github.com/autocache/autocache/plan"
	"github.com/autocache/autocache/rewrite"
	"github.com/pmezard/go-difflib/difflib"
)

// runRewrite is `autocache rewrite [-w] [--check] … PATH`: the Dockerfile
// with what autocache does written out (package rewrite). By default it
// prints a unified diff; -w writes the file; --check exits 1 when the file
// would change.
func runRewrite(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rewrite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	write := fs.Bool("w", false, "write the result to the file instead of printing a diff")
	check := fs.Bool("check", false, "exit 1 when the file would change (for CI)")
	offline := fs.Bool("offline", false, "give every base image an empty config instead of asking its registry")
	target := fs.String("target", "", "stage to build (default: the last)")
	platform := fs.String("platform", "", "target platform, e.g. linux/arm64")
	bargs := buildArgs{}
	fs.Var(bargs, "build-arg", "build argument K=V (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 || *write && (*check || fs.Arg(0) == "-") {
		fmt.Fprint(stderr, usage)
		return 2
	}
	path := "."
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	dt, name, err := readDockerfile(path, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "autocache rewrite: %v\n", err)
		return 1
	}
	opts := map[string]string{}
	for k, v := range bargs {
		opts["build-arg:"+k] = v
	}
	cfg, err := frontend.ParseConfig(opts)
	if err != nil {
		fmt.Fprintf(stderr, "autocache rewrite: %v\n", err)
		return 2
	}
	if cfg.Off {
		cfg.Managers = []string{}
	}
	res, err := rewrite.Rewrite(ctx, dt, plan.Options{
		Filename: name, Target: *target, BuildArgs: bargs, Platform: *platform, Offline: *offline,
		Managers: cfg.Managers, Scope: cfg.Scope, Warn: stderr,
	})
	if err != nil {
		printError(stderr, name, err)
		return 1
	}
	for _, sk := range res.Skipped {
		fmt.Fprintf(stderr, "autocache rewrite: %s: %s: its own steps are left as they are\n", name, sk)
	}
	for _, l := range res.Left {
		fmt.Fprintf(stderr, "autocache rewrite: %s:%d: left as it is: %s\n", name, l.Line, l.Why)
	}
	return rewriteOutput(res, dt, name, path, *write, *check, stdout, stderr)
}

// rewriteOutput writes the rewritten Dockerfile in place (-w), or prints
// the diff and, with --check, fails when there is one.
func rewriteOutput(res *rewrite.Result, dt []byte, name, path string, write, check bool, stdout, stderr io.Writer) int {
	if write {
		if res.Changed() {
			fi, err := os.Stat(name)
			if err == nil {
				err = os.WriteFile(name, res.Dockerfile, fi.Mode().Perm())
			}
			if err != nil {
				fmt.Fprintf(stderr, "autocache rewrite: %v\n", err)
				return 1
			}
		}
		fmt.Fprintf(stderr, "autocache rewrite: %s: %d RUN steps written out\n", name, len(res.Steps))
		return 0
	}
	diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(dt)), B: difflib.SplitLines(string(res.Dockerfile)),
		FromFile: name, ToFile: name + " (autocache rewrite)", Context: 3,
	})
	if err != nil {
		fmt.Fprintf(stderr, "autocache rewrite: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, diff)
	if check && res.Changed() {
		fmt.Fprintf(stderr, "autocache rewrite: %s would change: autocache adds to %d RUN step(s) (autocache rewrite -w %s)\n", name, len(res.Steps), path)
		return 1
	}
	return 0
}
