package shell

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"mvdan.cc/sh/v3/syntax"
)

// editSeeds are the scripts of the shell-form RUNs of pkgmgr's corpus of
// real Dockerfiles, and the stored inputs of pkgmgr's FuzzSplice.
func editSeeds(t testing.TB) []string {
	var out []string
	files, _ := filepath.Glob("../../testdata/corpus/*")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		res, err := parser.Parse(bytes.NewReader(data))
		if err != nil {
			continue // the README, and anything that isn't a Dockerfile
		}
		for _, n := range res.AST.Children {
			if strings.EqualFold(n.Value, "run") && n.Next != nil && n.Attributes["json"] == false {
				out = append(out, n.Next.Value)
			}
		}
	}
	stored, _ := filepath.Glob("../../testdata/fuzz/FuzzSplice/*")
	for _, file := range stored {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		if len(lines) > 1 && strings.HasPrefix(lines[1], "string(") {
			if s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")")); err == nil {
				out = append(out, s)
			}
		}
	}
	return out
}

// FuzzEdits: several edits of one script at once, of every kind pkgmgr
// makes (a command → `true`, a word dropped or replaced, a flag inserted
// after the program, an assignment dropped), picked by the fuzzer. No two
// edits pkgmgr could make partly overlap (but deletions), so Apply takes
// any of them together; the result parses, its nested scripts parse as before, and the
// bytes outside every edit made (a group's edit for all of its members)
// are the script's, in order.
func FuzzEdits(f *testing.F) {
	for i, s := range editSeeds(f) {
		f.Add(s, i%3 == 0, uint64(i)*0x9e3779b97f4a7c15)
	}
	f.Add("apk --no-cache add x && A=1 pip install --no-cache-dir y 2>/dev/null; export B=2", false, uint64(0xffffffff))
	f.Fuzz(func(t *testing.T, script string, bash bool, pick uint64) {
		args, lang := []string{"/bin/sh", "-c", script}, syntax.LangPOSIX
		if bash {
			args[0], lang = "/bin/bash", syntax.LangBash
		}
		if _, _, err := Parse(script, lang); err != nil {
			return
		}
		w := Walk(args, nil, "", "")
		cands := candidates(w, len(args)-1)
		if a, b := partlyOverlap(cands); a != nil {
			t.Fatalf("%q: edits %s partly overlap", script, show([]*Edit{a, b}))
		}
		edits := pickEdits(cands, pick)
		out, err := Apply(args, edits)
		if err != nil {
			t.Fatalf("%q with %s: %v", script, show(edits), err)
		}
		got := out[len(out)-1]
		if _, _, err := Parse(got, lang); err != nil {
			t.Fatalf("%q with %s gives %q, which doesn't parse: %v", script, show(edits), got, err)
		}
		if before, after := unparsed(w), unparsed(Walk(out, nil, "", "")); after > before {
			t.Fatalf("%q with %s gives %q: %d scripts don't parse, were %d", script, show(edits), got, after, before)
		}
		if piece, ok := outsideKept(script, got, grouped(edits)); !ok {
			t.Fatalf("%q with %s gives %q: %q, outside the edits, is not kept in place", script, show(edits), got, piece)
		}
	})
}

// candidates are the edits pkgmgr could make to the script in argv[arg].
func candidates(w *Walked, arg int) []*Edit {
	var out []*Edit
	add := func(e *Edit) {
		if e != nil && !e.Elem && !e.All && e.Arg == arg {
			out = append(out, e)
		}
	}
	for _, c := range w.Commands {
		add(c.Whole)
		if len(c.Argv) > 0 {
			add(InsertAfter(c.Argv[0], "-U"))
		}
		for _, x := range c.Argv[1:] {
			if x.node == nil || IsShell(c.Name) || c.Name == "busybox" {
				// An argv element of the exec form is not script text,
				// and a shell's own arguments are never edited (what it
				// runs is): dropping `0` from `sh 0 -c '!'` makes '!' its
				// script.
				continue
			}
			add(DeleteWord(x))
			add(ReplaceWord(x, "--update-cache"))
		}
		for _, s := range c.Inline {
			add(s.Del)
		}
	}
	for _, sites := range w.Sites {
		for _, s := range sites {
			add(s.Del)
		}
	}
	return out
}

// pickEdits takes each candidate or not by the bits of a xorshift sequence
// seeded with pick.
func pickEdits(cands []*Edit, pick uint64) []*Edit {
	x := pick | 1
	var out []*Edit
	for _, e := range cands {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		if x&1 == 1 {
			out = append(out, e)
		}
	}
	return out
}

// partlyOverlap finds two edits that overlap without one holding the
// other and are not both deletions: Apply refuses those.
func partlyOverlap(edits []*Edit) (*Edit, *Edit) {
	for _, a := range edits {
		for _, b := range edits {
			if a.Start < b.Start && b.Start < a.End && a.End < b.End && (!deletion(a) || !deletion(b)) {
				return a, b
			}
		}
	}
	return nil, nil
}

// outsideKept checks that the bytes of src outside every edit (split at
// every edit's ends) are in out, in order, the first at its start and the
// last at its end. It returns a piece that is not.
func outsideKept(src, out string, edits []*Edit) (string, bool) {
	covered := make([]bool, len(src))
	cut := make([]bool, len(src)+1)
	for _, e := range edits {
		for i := e.Start; i < e.End; i++ {
			covered[i] = true
		}
		cut[e.Start], cut[e.End] = true, true
	}
	var pieces []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			pieces = append(pieces, b.String())
			b.Reset()
		}
	}
	for i := 0; i < len(src); i++ {
		if cut[i] || covered[i] {
			flush()
		}
		if !covered[i] {
			b.WriteByte(src[i])
		}
	}
	flush()
	first := len(pieces) > 0 && !cut[0] && !covered[0] // a piece starts the script
	last := len(pieces) > 0 && len(src) > 0 && !covered[len(src)-1] && !cut[len(src)]
	pos, end := 0, len(out)
	if first {
		if !strings.HasPrefix(out, pieces[0]) {
			return pieces[0], false
		}
		pos, pieces = len(pieces[0]), pieces[1:]
	}
	if last && len(pieces) > 0 {
		p := pieces[len(pieces)-1]
		if !strings.HasSuffix(out[pos:], p) {
			return p, false
		}
		end, pieces = len(out)-len(p), pieces[:len(pieces)-1]
	}
	for _, p := range pieces {
		at := strings.Index(out[pos:end], p)
		if at < 0 {
			return p, false
		}
		pos += at + len(p)
	}
	return "", true
}

// unparsed counts the scripts a walk could not parse.
func unparsed(w *Walked) int {
	n := 0
	for _, note := range w.Notes {
		if strings.HasPrefix(note, "shell: can't parse") {
			n++
		}
	}
	return n
}

func show(edits []*Edit) string {
	var b strings.Builder
	for _, e := range edits {
		fmt.Fprintf(&b, "[%d,%d)→%q ", e.Start, e.End, e.Repl)
	}
	return b.String()
}
