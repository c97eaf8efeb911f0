package shell

import (
	"slices"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

// step is the part of a build step that Walk reads.
type step struct {
	Args, Env []string
	User, Cwd string
}

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
		idx, lang, ok := ScriptArg(c.argv)
		if !ok {
			idx = -1
		}
		if idx != c.idx || (ok && lang != c.lang) {
			t.Errorf("%q: got %d %v, want %d %v", c.argv, idx, lang, c.idx, c.lang)
		}
	}
}

// names lists the program of every command found, in order.
func commandNames(t *testing.T, s step) []string {
	t.Helper()
	var n []string
	for _, c := range Walk(s.Args, s.Env, s.User, s.Cwd).Commands {
		n = append(n, c.Name+"@"+c.User.String())
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
		for _, n := range commandNames(t, step{Args: []string{"/bin/bash", "-c", c.script}}) {
			got = append(got, strings.TrimSuffix(n, "@root"))
		}
		if strings.Join(got, " ") != "bash "+c.want { // the step's own shell first
			t.Errorf("%q:\n got %q\nwant %q", c.script, strings.Join(got, " "), c.want)
		}
	}
}

func TestUsers(t *testing.T) {
	got := commandNames(t, step{User: "1000:1000", Args: []string{"/bin/sh", "-c",
		"a; sudo b; sudo -u app c; sudo -u '#1001' d; gosu node e; su-exec 0:0 f; sudo sh -c 'g'"}})
	want := []string{"sh@1000:1000", "a@1000:1000", "b@root", "c@app", "d@1001", "e@node", "f@root", "sh@root", "g@root"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	for spec, want := range map[string]User{
		"": root, "root": {Kind: RootUser, Spec: "root"}, "0:0": {Kind: RootUser, Spec: "0:0"},
		"root:staff": {Kind: RootUser, Spec: "root:staff"},
		"1000":       {Kind: NumericUser, UID: 1000, Spec: "1000"}, "1000:50": {Kind: NumericUser, UID: 1000, GID: 50, Spec: "1000:50"},
		"node": {Kind: NamedUser, Spec: "node"}, "1000:staff": {Kind: NamedUser, Spec: "1000:staff"},
	} {
		if got := ParseUser(spec); got != want {
			t.Errorf("ParseUser(%q) = %+v, want %+v", spec, got, want)
		}
	}
}

// TestEnvTracking: what a command sees after assignments, exports, sudo…
func TestEnvTracking(t *testing.T) {
	s := step{Env: []string{"A=step", "HOME=/home/x"}, Args: []string{"/bin/sh", "-c",
		"A=plain; p1; export B=exp; p2; C=inline p3; (export A=sub; p4); p5; sudo p6; sudo -E p7; env -i D=1 p8; X=$(date) p9"}}
	got := map[string]string{}
	for _, c := range Walk(s.Args, s.Env, s.User, s.Cwd).Commands {
		var kv []string
		for _, k := range []string{"A", "B", "C", "D", "HOME", "X"} {
			if v, ok := c.Env[k]; ok {
				if !v.Known {
					v.Val = "?"
				}
				kv = append(kv, k+"="+v.Val)
			}
		}
		got[c.Name] = strings.Join(kv, " ")
	}
	for name, want := range map[string]string{
		"p1": "A=plain HOME=/home/x",                // A was exported by the step's env
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

// Insertions (start == end) next to other edits: applied once, before an
// edit that starts where they are, dropped only strictly inside one.
func TestApplyEditsInsert(t *testing.T) {
	args := []string{"sh", "-c", "apk --no-cache add x && apk add y"}
	//                           0123456789012345678901234567890123
	ins := &Edit{Arg: 2, Start: 3, End: 3, Repl: " -U"}
	del := &Edit{Arg: 2, Start: 3, End: 14} // " --no-cache"
	whole := &Edit{Arg: 2, Start: 0, End: 20, Repl: "true"}
	for _, c := range []struct {
		edits []*Edit
		want  string
	}{
		{[]*Edit{ins}, "apk -U --no-cache add x && apk add y"},
		{[]*Edit{del, ins}, "apk -U add x && apk add y"},
		{[]*Edit{ins, ins}, "apk -U --no-cache add x && apk add y"},
		{[]*Edit{ins, whole}, "true && apk add y"},
		{[]*Edit{{Arg: 2, Start: 27, End: 27, Repl: " -U"}, whole}, "true && apk -U add y"},
		{[]*Edit{{Arg: 2, Start: 20, End: 20, Repl: " x"}, whole}, "true x && apk add y"},
	} {
		got, err := Apply(args, c.edits)
		if err != nil {
			t.Fatal(err)
		}
		if got[2] != c.want {
			t.Errorf("%+v: got %q, want %q", c.edits, got[2], c.want)
		}
	}
}
