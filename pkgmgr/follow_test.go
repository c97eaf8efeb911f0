package pkgmgr

import (
	"slices"
	"strings"
	"testing"
)

var goModFollow = CacheMount{Manager: "go", Target: "/go/pkg/mod", Sharing: Shared, Follows: "line 5"}

func shStep(script string, follow ...CacheMount) Step {
	return Step{Args: []string{"/bin/sh", "-c", script}, Env: golangEnv, Cwd: "/src", Follow: follow}
}

func targets(p Plan) []string {
	var out []string
	for _, c := range p.Caches {
		out = append(out, c.Target+" "+c.Follows)
	}
	return out
}

func TestFollowGivesAnUnrecognizedStepTheCache(t *testing.T) {
	p, err := Analyze(shStep("make build", goModFollow), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Managers) != 0 || !slices.Equal(targets(p), []string{"/go/pkg/mod line 5"}) {
		t.Fatalf("plan %+v", p)
	}
	if !slices.Contains(p.Notes, "go: cache /go/pkg/mod (shared) follows line 5") {
		t.Errorf("notes %q", p.Notes)
	}
	if !slices.Equal(p.Args, []string{"/bin/sh", "-c", "make build"}) {
		t.Errorf("args %q", p.Args)
	}
}

func TestFollowWinsOverTheStepsOwnRequest(t *testing.T) {
	p, _ := Analyze(shStep("go build .", goModFollow), Options{})
	want := []string{"/go/pkg/mod line 5", "/root/.cache/go-build "}
	if !slices.Equal(targets(p), want) {
		t.Fatalf("caches %q, want %q", targets(p), want)
	}
}

func TestFollowNeutralizesCleanups(t *testing.T) {
	p, _ := Analyze(shStep("go clean -modcache && rm -rf /go/pkg/mod/cache/download", goModFollow), Options{})
	if !slices.Equal(targets(p), []string{"/go/pkg/mod line 5"}) {
		t.Fatalf("caches %q", targets(p))
	}
	if s := p.Args[2]; strings.Contains(s, "-modcache") || strings.Contains(s, "/go/pkg/mod/cache") {
		t.Errorf("cleanups of the followed cache left in: %q", s)
	}
}

func TestFollowDroppedWhereTheStepRemovesIt(t *testing.T) {
	// rm of the mountpoint itself would fail (EBUSY): no mount; the step
	// removes what the layer has there, as upstream.
	p, _ := Analyze(shStep("rm -rf /go/pkg", goModFollow), Options{})
	if len(p.Caches) != 0 {
		t.Fatalf("caches %q", targets(p))
	}
	// The step's own mount there wins over the lineage's.
	s := shStep("ls", goModFollow)
	s.Mounts = []string{"/go"}
	if p, _ := Analyze(s, Options{}); len(p.Caches) != 0 {
		t.Fatalf("caches %q", targets(p))
	}
}

func TestAskIsAboutNewCachesOnly(t *testing.T) {
	var asked []string
	s := shStep("go build .", goModFollow)
	s.Refused = map[string]string{}
	for _, c := range Ask(s, Options{}).Caches {
		asked = append(asked, c.Target)
		s.Refused[c.Target] = "has content in the base image"
	}
	p, _ := Analyze(s, Options{})
	if !slices.Equal(asked, []string{"/root/.cache/go-build"}) {
		t.Fatalf("asked about %q", asked)
	}
	if !slices.Equal(targets(p), []string{"/go/pkg/mod line 5"}) {
		t.Fatalf("caches %q", targets(p))
	}
	if !slices.Contains(p.Notes, "go: skipped /root/.cache/go-build: has content in the base image") {
		t.Errorf("notes %q", p.Notes)
	}
}

func TestSystemManagersAreLocalWithSkeletons(t *testing.T) {
	p, _ := Analyze(Step{Args: []string{"/bin/sh", "-c", "apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*"}}, Options{})
	if len(p.Caches) != 2 {
		t.Fatalf("caches %+v", p.Caches)
	}
	for _, c := range p.Caches {
		if !c.Local || len(c.Skeleton) == 0 {
			t.Errorf("%s: local %v skeleton %q", c.Target, c.Local, c.Skeleton)
		}
	}
	p, _ = Analyze(shStep("go mod download"), Options{})
	if p.Caches[0].Local {
		t.Error("the module cache is local")
	}
}
