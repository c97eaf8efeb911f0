package pkgmgr

import (
	"slices"
	"strings"
	"testing"
)

func TestParseFailure(t *testing.T) {
	p, err := Analyze(Step{Args: []string{"/bin/sh", "-c", "apt-get install -y x && ("}}, Options{})
	if err != nil || len(p.Managers) != 0 || len(p.Notes) != 1 || !strings.HasPrefix(p.Notes[0], "shell: can't parse script") {
		t.Fatalf("got %+v, %v", p, err)
	}
	// Bash syntax under /bin/sh still parses (POSIX, then bash).
	p, _ = Analyze(Step{Args: []string{"/bin/sh", "-c", "[[ -f x ]] && pip install --no-cache-dir y"}}, Options{})
	if len(p.Managers) != 1 || p.Args[2] != "[[ -f x ]] && pip install y" {
		t.Fatalf("got %+v", p)
	}
}

func TestPatterns(t *testing.T) {
	for _, c := range []struct {
		pat, dir       string
		under, reaches bool
	}{
		{"/var/lib/apt/lists/*", "/var/lib/apt/lists", true, false},
		{"/var/lib/apt/lists", "/var/lib/apt/lists", true, true},
		{"/var/lib/apt", "/var/lib/apt/lists", false, true},
		{"/var/lib/*", "/var/lib/apt/lists", false, true},
		{"/var/lib/apt/lists*", "/var/lib/apt/lists", false, true},
		{"/root/.cache", "/root/.cache/pip", false, true},
		{"/root/.cachex", "/root/.cache", false, false},
		{"/root/.cache/pip/http/*", "/root/.cache/pip", true, false},
		{`/root/.cache/pi\*`, "/root/.cache/pi*", true, true},
		{"/var/cache/*/archives/*.deb", "/var/cache/apt", false, false},
		{"/", "/root/.npm", false, true},
		{"/tmp/*", "/root/.npm", false, false},
	} {
		if got := patUnder(c.pat, c.dir); got != c.under {
			t.Errorf("patUnder(%q, %q) = %v", c.pat, c.dir, got)
		}
		if got := patReaches(c.pat, c.dir); got != c.reaches {
			t.Errorf("patReaches(%q, %q) = %v", c.pat, c.dir, got)
		}
	}
}

// TestSplices: edits touch only their bytes.
func TestSplices(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		// word deletion takes the blank before it, continuation lines too
		{"pip install \\\n    --no-cache-dir \\\n    -r r.txt", "pip install \\\n    -r r.txt"},
		{"pip install --no-cache-dir\tx", "pip install\tx"},
		{"pip install x --no-cache-dir; echo", "pip install x; echo"},
		// a redirect between words stays
		{"pip install 2>/dev/null --no-cache-dir x", "pip install 2>/dev/null x"},
		{"pip install 2 --no-cache-dir>log", "pip install 2 >log"}, // not 2>log
		{"pip install 2 --no-cache-dir<r", "pip install 2 <r"},
		// assignments
		{"A=1 PIP_NO_CACHE_DIR=1 B=2 pip install x", "A=1 B=2 pip install x"},
		{"PIP_NO_CACHE_DIR=1 2>/dev/null pip install x", "2>/dev/null pip install x"},
		{"PIP_NO_CACHE_DIR=1 \\\n  pip install x", "pip install x"},
		{"PIP_NO_CACHE_DIR=1; pip install x", "true; pip install x"},
		{"A=1 PIP_NO_CACHE_DIR=1; pip install x", "A=1; pip install x"},
		{"PIP_NO_CACHE_DIR=1 A=1; pip install x", "A=1; pip install x"},
		{"export A=1 PIP_NO_CACHE_DIR=1 && pip install x", "export A=1 && pip install x"},
		// cleanups
		{"pip install x && pip cache purge >/dev/null", "pip install x && true >/dev/null"},
		{"pip install x; rm -rf /tmp/a /root/.cache/pip /tmp/b", "pip install x; rm -rf /tmp/a /tmp/b"},
		{"pip install x; sudo rm -rf /root/.cache/pip", "pip install x; true"},
		{"pip install x; ! pip cache purge", "pip install x; ! true"},
		// quoting of the words we keep is untouched
		{`pip install "a b" --no-cache-dir 'c'`, `pip install "a b" 'c'`},
	} {
		for _, shell := range [][]string{{"/bin/sh", "-c"}, {"/bin/bash", "-c"}} {
			p, err := Analyze(Step{Args: append(slices.Clone(shell), c.in)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Args[len(p.Args)-1]; got != c.out {
				t.Errorf("%s %q:\n got %q\nwant %q", shell[0], c.in, got, c.out)
			}
		}
	}
}

func TestNoPanicOnOddSteps(t *testing.T) {
	for _, s := range []Step{
		{},
		{Args: []string{""}},
		{Args: []string{"/bin/sh", "-c", ""}},
		{Args: []string{"/bin/sh", "-c", "pip install x"}, Cwd: "relative", User: ":", Env: []string{"=", "noequals", "HOME="}},
		{Args: []string{"/bin/sh", "-c", "pip install x"}, Mounts: []string{"", "relative", "/"}},
		{Args: []string{"sudo"}},
		{Args: []string{"env", "-u"}},
		{Args: []string{"/bin/sh", "-c", "sh -c 'sh -c \"sh -c pip\\ install\\ x\"'"}},
	} {
		if _, err := Analyze(s, Options{}); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
}

func TestMisc(t *testing.T) {
	runCases(t, []tcase{{
		name: "exec form through env into bash -c", argv: []string{"/usr/bin/env", "bash", "-c", "pip install --no-cache-dir x"},
		outArgv: []string{"/usr/bin/env", "bash", "-c", "pip install x"}, caches: pipRoot,
	}, {
		name: "command substitution in an unquoted here-document", in: "cat > /tmp/v <<EOF\n$(pip install x >&2; echo 1)\nEOF\n",
		caches: pipRoot,
	}, {
		name: "same cache wanted by two owners", in: "pip install a && sudo -E -u '#1000' pip install b",
		env:   []string{"PIP_CACHE_DIR=/pipcache"},
		notes: []string{"skipped /pipcache: wanted by pip as 0:0 (shared) and by pip as 1000:0 (shared)"},
	}, {
		name: "go env -u drops an earlier -w", in: "go env -w GOMODCACHE=/m && go env -u GOMODCACHE && go mod download",
		env: golangEnv, caches: []string{"/go/pkg/mod shared 0:0"},
	}, {
		name: "zsh is not parsed", argv: []string{"zsh", "-c", "pip install x"}, none: true,
	}, {
		name: "explicit linux", in: "npm ci", os: "linux", caches: npmRoot,
	}, {
		name: "several managers in one step",
		in: "apt-get update && apt-get install -y python3-pip nodejs npm golang && pip install --no-cache-dir x && npm ci && go build ./... " +
			"&& rm -rf /var/lib/apt/lists/* ~/.npm",
		out: "apt-get update && apt-get install -y python3-pip nodejs npm golang && pip install x && npm ci && go build ./... " +
			"&& true",
		caches: []string{"/root/.cache/go-build shared 0:0", "/root/.cache/pip shared 0:0", "/root/.cache/pip/wheels shared 0:0 per-image", "/root/.npm shared 0:0",
			"/root/go/pkg/mod shared 0:0", "/var/cache/apt locked 0:0", "/var/lib/apt/lists locked 0:0"},
		files: true, notes: []string{"apt: removed `rm -rf /var/lib/apt/lists/* ~/.npm`", "npm: removed `rm -rf /var/lib/apt/lists/* ~/.npm`"},
	}})
}
