package pkgmgr

import (
	"slices"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

func TestShellScript(t *testing.T) {
	for _, c := range []struct {
		argv []string
		idx  int // -1: not shell form
		lang syntax.LangVariant
	}{
		{[]string{"/bin/sh", "-c", "x"}, 2, syntax.LangPOSIX},
		{[]string{"/bin/bash", "-o", "pipefail", "-c", "x"}, 4, syntax.LangBash},
		{[]string{"bash", "-exc", "x", "arg0"}, 2, syntax.LangBash},
		{[]string{"bash", "-eo", "pipefail", "-c", "x"}, 4, syntax.LangBash},
		{[]string{"sh", "+o", "xtrace", "-ec", "x"}, 4, syntax.LangPOSIX},
		{[]string{"bash", "--login", "-c", "x"}, 3, syntax.LangBash},
		{[]string{"bash", "--rcfile", "/x", "-c", "x"}, 4, syntax.LangBash},
		{[]string{"sh", "-c", "--", "x"}, 3, syntax.LangPOSIX},
		{[]string{"/bin/busybox", "sh", "-c", "x"}, 3, syntax.LangPOSIX},
		{[]string{"dash", "-c", "x"}, 2, syntax.LangPOSIX},
		{[]string{"/bin/ash", "-c", "x"}, 2, syntax.LangPOSIX},
		{[]string{"sh", "script.sh"}, -1, 0},
		{[]string{"sh", "-c"}, -1, 0},
		{[]string{"pwsh", "-c", "x"}, -1, 0},
		{[]string{"cmd", "/S", "/C", "x"}, -1, 0},
		{[]string{"zsh", "-c", "x"}, -1, 0},
		{[]string{"pip", "install", "-c", "x"}, -1, 0},
		{nil, -1, 0},
	} {
		idx, lang, ok := shellScript(c.argv)
		if !ok {
			idx = -1
		}
		if idx != c.idx || (ok && lang != c.lang) {
			t.Errorf("%q: got %d %v, want %d %v", c.argv, idx, lang, c.idx, c.lang)
		}
	}
}

// names lists the program of every command found, in order.
func commandNames(t *testing.T, s Step) []string {
	t.Helper()
	a := &analysis{step: s, sites: map[string][]*assignSite{}, scripts: map[int]syntax.LangVariant{}}
	a.walk()
	var n []string
	for _, c := range a.cmds {
		n = append(n, c.name+"@"+c.user.String())
	}
	return n
}

func TestCommandsFound(t *testing.T) {
	for _, c := range []struct {
		script string
		want   string
	}{
		{"a && b || c; d | e & f", "a b c d e f"},
		{"(a; { b; }) && if c; then d; elif e; then f; else g; fi", "a b c d e f g"},
		{"for x in $(a); do b; done; while c; do d; done; case $(e) in x) f;; esac", "a b c d e f"},
		{"f() { a; }; x=$(b) y=`c` d <(e)", "a b c e d"}, // bodies where defined; substitutions first
		{"# pip install x\necho 'pip install x' \"apt-get install\"", "echo"},
		{"env -i -- A=1 a; env -u X b; env c=1; env -i A=1 -- c", "a b --"},
		{"sudo -E -u root a; sudo -- b; sudo -n c; sudo d=1 e", "a b c e"},
		{"command -v a; command b; exec -a x c; time -p d; nice -n 5 e; nice -10 f; nohup g; timeout -s KILL 5m h", "b c d e f g h"},
		{"timeout --kill-after=5 10 a; stdbuf -oL b; eatmydata c; DEBIAN_FRONTEND=x d", "a b c d"},
		{"sh -c 'a; b' && bash -ec \"c\" && busybox sh -c d", "sh a b bash c busybox d"},
		{"bash <<'EOF'\na\nEOF\nsh -s -- x <<EOF\nb\nEOF\ncat <<EOF\nnot\nEOF\n", "bash a sh b cat"},
		{"bash script.sh <<EOF\nnot\nEOF\n", "bash"},
		{"bash --norc -e <<'EOF'\na\nEOF\n", "bash a"},
		{"bash -eo pipefail <<'EOF'\na\nEOF\nbash '' <<'EOF'\nnot\nEOF\n", "bash a bash"},
		{"export A=1; unset A; cd /x; readonly B=2", "cd"},
	} {
		var got []string
		for _, n := range commandNames(t, Step{Args: []string{"/bin/bash", "-c", c.script}}) {
			got = append(got, strings.TrimSuffix(n, "@root"))
		}
		if strings.Join(got, " ") != "bash "+c.want { // the step's own shell first
			t.Errorf("%q:\n got %q\nwant %q", c.script, strings.Join(got, " "), c.want)
		}
	}
}

func TestUsers(t *testing.T) {
	got := commandNames(t, Step{User: "1000:1000", Args: []string{"/bin/sh", "-c",
		"a; sudo b; sudo -u app c; sudo -u '#1001' d; gosu node e; su-exec 0:0 f; sudo sh -c 'g'"}})
	want := []string{"sh@1000:1000", "a@1000:1000", "b@root", "c@app", "d@1001", "e@node", "f@root", "sh@root", "g@root"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	for spec, want := range map[string]user{
		"": root, "root": {kind: rootUser, spec: "root"}, "0:0": {kind: rootUser, spec: "0:0"},
		"root:staff": {kind: rootUser, spec: "root:staff"},
		"1000":       {kind: numericUser, uid: 1000, spec: "1000"}, "1000:50": {kind: numericUser, uid: 1000, gid: 50, spec: "1000:50"},
		"node": {kind: namedUser, spec: "node"}, "1000:staff": {kind: namedUser, spec: "1000:staff"},
	} {
		if got := parseUser(spec); got != want {
			t.Errorf("parseUser(%q) = %+v, want %+v", spec, got, want)
		}
	}
}

// TestEnvTracking: what a command sees after assignments, exports, sudo…
func TestEnvTracking(t *testing.T) {
	s := Step{Env: []string{"A=step", "HOME=/home/x"}, Args: []string{"/bin/sh", "-c",
		"A=plain; p1; export B=exp; p2; C=inline p3; (export A=sub; p4); p5; sudo p6; sudo -E p7; env -i D=1 p8; X=$(date) p9"}}
	a := &analysis{step: s, sites: map[string][]*assignSite{}, scripts: map[int]syntax.LangVariant{}}
	a.walk()
	got := map[string]string{}
	for _, c := range a.cmds {
		var kv []string
		for _, k := range []string{"A", "B", "C", "D", "HOME", "X"} {
			if v, ok := c.env[k]; ok {
				if !v.known {
					v.val = "?"
				}
				kv = append(kv, k+"="+v.val)
			}
		}
		got[c.name] = strings.Join(kv, " ")
	}
	for name, want := range map[string]string{
		"p1": "A=plain HOME=/home/x",                // A was exported by Step.Env
		"p2": "A=plain B=exp HOME=/home/x",          //
		"p3": "A=plain B=exp C=inline HOME=/home/x", //
		"p4": "A=sub B=exp HOME=/home/x",            // subshell
		"p5": "A=plain B=exp HOME=/home/x",          // back out of it
		"p6": "HOME=/root",                          // env_reset
		"p7": "A=plain B=exp HOME=/root",            // -E keeps env; HOME is root's
		"p8": "D=1",                                 // env -i
		"p9": "A=plain B=exp HOME=/home/x X=?",      // not a literal
	} {
		if got[name] != want {
			t.Errorf("%s sees %q, want %q", name, got[name], want)
		}
	}
}

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
	if got := Names(); !slices.Equal(got, []string{"apk", "apt", "bun", "bundler", "cargo", "composer", "conda", "dnf",
		"gem", "go", "gradle", "maven", "npm", "nuget", "pdm", "pip", "pipenv", "pnpm", "poetry", "sbt", "uv", "yarn",
		"yum", "zypper"}) {
		t.Errorf("Names() = %q", got)
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

// Insertions (start == end) next to other edits: applied once, before an
// edit that starts where they are, dropped only strictly inside one.
func TestApplyEditsInsert(t *testing.T) {
	args := []string{"sh", "-c", "apk --no-cache add x && apk add y"}
	//                           0123456789012345678901234567890123
	ins := &edit{arg: 2, start: 3, end: 3, repl: " -U"}
	del := &edit{arg: 2, start: 3, end: 14} // " --no-cache"
	whole := &edit{arg: 2, start: 0, end: 20, repl: "true"}
	for _, c := range []struct {
		edits []*edit
		want  string
	}{
		{[]*edit{ins}, "apk -U --no-cache add x && apk add y"},
		{[]*edit{del, ins}, "apk -U add x && apk add y"},
		{[]*edit{ins, ins}, "apk -U --no-cache add x && apk add y"},
		{[]*edit{ins, whole}, "true && apk add y"},
		{[]*edit{{arg: 2, start: 27, end: 27, repl: " -U"}, whole}, "true && apk -U add y"},
		{[]*edit{{arg: 2, start: 20, end: 20, repl: " x"}, whole}, "true x && apk add y"},
	} {
		got, err := applyEdits(args, c.edits)
		if err != nil {
			t.Fatal(err)
		}
		if got[2] != c.want {
			t.Errorf("%+v: got %q, want %q", c.edits, got[2], c.want)
		}
	}
}
