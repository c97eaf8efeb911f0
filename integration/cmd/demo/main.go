// Command demo builds each project in examples/ on the embedded engine, cold
// and again after adding one dependency, once with BuildKit's builtin
// Dockerfile frontend (upstream) and once with autocache, and prints a table
// of build times and package files downloaded. `make demo` runs it inside
// integration/engine/with-engine.sh, which supplies the environment.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/autocache/autocache/integration/examples"
	"github.com/autocache/autocache/integration/pkgserver"
)

type result struct {
	seconds float64
	pkgs    int
}

func main() {
	examplesDir := flag.String("examples", "examples", "directory with one project per package manager")
	registries := flag.String("registries", "hermetic", "hermetic: the harness's package registries (127.0.0.1) through NETWORK's profile; real: the real ones this machine reaches")
	flag.Parse()
	frontend, stats, registry := os.Getenv("AUTOCACHE_FRONTEND"), os.Getenv("AUTOCACHE_STATS"), os.Getenv("AUTOCACHE_REGISTRY")
	if frontend == "" || stats == "" || registry == "" {
		fail("run me through `make demo` (the engine's environment is missing)")
	}
	live := *registries == "real"
	if !live && *registries != "hermetic" {
		fail("-registries %q: want hermetic or real", *registries)
	}
	kinds := examples.Kinds
	if live {
		kinds = realKinds
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "example\tfrontend\tcold build\tpackages\trebuild +1 dep\tpackages\t")
	for _, kind := range kinds {
		for _, fe := range []string{"upstream", "autocache"} {
			dir, err := os.MkdirTemp("", "autocache-demo-")
			if err != nil {
				fail("%v", err)
			}
			if live {
				err = writeReal(dir, kind, registry)
			} else {
				err = os.CopyFS(dir, os.DirFS(filepath.Join(*examplesDir, kind)))
			}
			if err != nil {
				fail("%v", err)
			}
			if fe == "autocache" {
				if err := examples.Edit(dir, "Dockerfile", func(s string) string { return "# syntax=" + frontend + "\n" + s }); err != nil {
					fail("%v", err)
				}
			}
			coldBuilder(dir)
			cold := build(dir, kind, stats, live)
			if live {
				err = realProjects[kind].addOne(dir)
			} else {
				err = examples.AddDependency(dir, kind, 11)
			}
			if err != nil {
				fail("%v", err)
			}
			warm := build(dir, kind, stats, live)
			os.RemoveAll(dir)
			fmt.Fprintf(tw, "%s\t%s\t%.1fs\t%d\t%.1fs\t%d\t\n", kind, fe, cold.seconds, cold.pkgs, warm.seconds, warm.pkgs)
		}
	}
	fmt.Println()
	tw.Flush()
	if live {
		fmt.Printf("\n%s\n", realFooter)
		return
	}
	profile, err := pkgserver.ParseProfile(os.Getenv("AUTOCACHE_NETWORK"))
	if err != nil {
		fail("%v", err)
	}
	fmt.Printf("\nThe package registries (127.0.0.1) served every file through a network profile of %s\n"+
		"(make demo NETWORK=RATE,LATENCY sets another; NETWORK= is loopback speed).\n", profile)
}

// coldBuilder empties the builder (no layers, no cache mounts from earlier
// builds) and then pulls the project's base image, so that each frontend's
// cold build starts the same way: without the other's layers, with the
// base image (and, for autocache, its frontend image) already there.
func coldBuilder(dir string) {
	if out, err := exec.Command("buildctl", "prune", "--all").CombinedOutput(); err != nil {
		fail("buildctl prune: %v\n%s", err, out)
	}
	df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		fail("%v", err)
	}
	var base, syntax string
	for _, l := range strings.Split(string(df), "\n") {
		if s, ok := strings.CutPrefix(l, "# syntax="); ok {
			syntax = s
		}
		if f := strings.Fields(l); len(f) >= 2 && strings.EqualFold(f[0], "FROM") {
			base = f[1]
			break
		}
	}
	warm, err := os.MkdirTemp("", "autocache-demo-warm-")
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(warm)
	pull := "FROM " + base + "\nRUN true\n"
	if syntax != "" {
		pull = "# syntax=" + syntax + "\n" + pull
	}
	if err := os.WriteFile(filepath.Join(warm, "Dockerfile"), []byte(pull), 0o644); err != nil {
		fail("%v", err)
	}
	cmd := exec.Command("buildctl", "build", "--frontend", "dockerfile.v0", "--local", "context="+warm, "--local", "dockerfile="+warm)
	if out, err := cmd.CombinedOutput(); err != nil {
		fail("pulling %s: %v\n%s", base, err, out)
	}
}

// build runs one buildctl build and measures it: the package files
// downloaded are the hermetic registries' counters, or, from the real
// registries, the files the build's output says it fetched.
func build(dir, kind, stats string, live bool) result {
	before := counts(stats)[kind]
	cmd := exec.Command("buildctl", "build", "--progress=plain", "--frontend", "dockerfile.v0",
		"--local", "context="+dir, "--local", "dockerfile="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fail("building %s: %v\n%s", dir, err, out.String())
	}
	r := result{seconds: time.Since(start).Seconds(), pkgs: counts(stats)[kind] - before}
	if live {
		r.pkgs = realDownloads(kind, out.String())
	}
	fmt.Fprintf(os.Stderr, "demo: %s built in %.1fs, %d package files downloaded\n", kind, r.seconds, r.pkgs)
	return r
}

func counts(url string) map[string]int {
	resp, err := http.Get(url)
	if err != nil {
		fail("%v", err)
	}
	defer resp.Body.Close()
	var c map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		fail("%v", err)
	}
	return c
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
	os.Exit(1)
}
