package optout

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		name     string
		df       string
		off      bool
		managers []string // nil = not set
		line     int
		steps    map[int]int
	}{{
		name: "nothing",
		df:   "FROM debian\nRUN apt-get install -y curl\n",
	}, {
		name: "directive off",
		df:   "# autocache=off\nFROM debian\nRUN apt-get install -y curl\n",
		off:  true, line: 1,
	}, {
		name: "after BuildKit's own directives, any case and blanks",
		df:   "# syntax=docker/dockerfile:1\n# escape=`\n#  AutoCache = OFF \nFROM debian\n",
		off:  true, line: 3,
	}, {
		name: "after a shebang",
		df:   "#!/usr/bin/env buildctl\n# autocache=off\nFROM debian\n",
		off:  true, line: 2,
	}, {
		name:     "managers",
		df:       "# syntax=x/autocache:1\n# autocache=managers=apt, PIP,apt\nFROM debian\n",
		managers: []string{"apt", "pip"}, line: 2,
	}, {
		name:     "managers, empty list: none",
		df:       "# autocache=managers=\nFROM debian\n",
		managers: []string{}, line: 1,
	}, {
		name:  "a comment above a RUN",
		df:    "FROM debian\n# install tools\n# autocache: off\nRUN apt-get install -y curl\nRUN apt-get install -y git\n",
		steps: map[int]int{4: 3},
	}, {
		name:  "above a continued RUN, in a comment block, any case",
		df:    "FROM debian\n#AUTOCACHE:Off\n# the image needs the lists\nRUN apt-get update && \\\n  apt-get install -y curl\n",
		steps: map[int]int{4: 2},
	}, {
		name:     "with the directive",
		df:       "# autocache=managers=pip\nFROM python\n# autocache: off\nRUN pip install flask\n",
		managers: []string{"pip"}, line: 1, steps: map[int]int{4: 3},
	}, {
		name: "in a heredoc or a continuation it is the script's",
		df:   "FROM debian\nRUN <<EOF\n# autocache: of\n# autocache=on\nEOF\nRUN apt-get update \\\n# autocache: off\n && apt-get install -y curl\n",
	}, {
		name: "other comments",
		df:   "FROM debian\n# autocaching is nice\n# see autocache: docs\nRUN true\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Read([]byte(tc.df))
			if err != nil {
				t.Fatal(err)
			}
			if tc.steps == nil {
				tc.steps = map[int]int{}
			}
			if f.Off != tc.off || !slices.Equal(f.Managers, tc.managers) || (f.Managers == nil) != (tc.managers == nil) ||
				f.Line != tc.line || !maps.Equal(f.Steps, tc.steps) {
				t.Errorf("got %+v, want off=%v managers=%#v line=%d steps=%v", f, tc.off, tc.managers, tc.line, tc.steps)
			}
		})
	}
}

// The directive stands where BuildKit's parser stops: below an unknown
// directive BuildKit would ignore a `# syntax=` line.
func TestDirectiveOnlyWhereBuildKitStops(t *testing.T) {
	df := "# autocache=off\n# syntax=docker/dockerfile:1\nFROM debian\n"
	if _, _, _, ok := parser.DetectSyntax([]byte(df)); ok {
		t.Fatal("BuildKit now reads directives after an unknown one; the docs' advice is out of date")
	}
	f, err := Read([]byte(df))
	if err != nil || !f.Off {
		t.Fatalf("got %+v, %v", f, err)
	}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, df string
		line     int
		msg      string
	}{
		{"unknown value", "# autocache=no\nFROM debian\n", 1, "takes `off` or `managers="},
		{"unknown manager", "# syntax=x\n# autocache=managers=apt,ppi\nFROM debian\n", 2, `unknown package manager "ppi"`},
		{"directive below the top", "FROM debian\n# autocache=off\nRUN true\n", 2, "must be among the directives at the top"},
		{"directive after a comment", "# my image\n# autocache=off\nFROM debian\n", 2, "must be among the directives at the top"},
		{"step comment with another value", "FROM debian\n# autocache: on\nRUN true\n", 2, "the only setting for one step is `# autocache: off`"},
		{"blank line between", "FROM debian\n# autocache: off\n\nRUN true\n", 2, "directly above a RUN"},
		{"above COPY", "FROM debian\n# autocache: off\nCOPY . .\n", 2, "above COPY on line 3"},
		{"above FROM, for the whole file", "# autocache: off\nFROM debian\n", 1, "use the directive `# autocache=off`"},
		{"at the end", "FROM debian\nRUN true\n# autocache: off\n", 3, "directly above a RUN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read([]byte(tc.df))
			var e *Error
			if !errors.As(err, &e) || e.Line != tc.line || !strings.Contains(e.Msg, tc.msg) {
				t.Fatalf("got %v, want line %d: …%s…", err, tc.line, tc.msg)
			}
		})
	}
}

func TestNarrow(t *testing.T) {
	for _, tc := range []struct {
		file     File
		off      bool
		managers []string
		wantOff  bool
		want     []string
	}{
		{file: File{}, want: nil},
		{file: File{}, managers: []string{"apt"}, want: []string{"apt"}},
		{file: File{Off: true}, managers: []string{"apt"}, wantOff: true, want: []string{}},
		{file: File{}, off: true, wantOff: true, want: []string{}},
		{file: File{Managers: []string{"apt", "pip"}}, want: []string{"apt", "pip"}},
		{file: File{Managers: []string{"apt", "pip"}}, managers: []string{"pip", "go"}, want: []string{"pip"}},
		{file: File{Managers: []string{"apt"}}, managers: []string{"go"}, want: []string{}},
	} {
		off, got := tc.file.Narrow(tc.off, tc.managers)
		if off != tc.wantOff || !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("%+v.Narrow(%v, %v) = %v, %#v; want %v, %#v", tc.file, tc.off, tc.managers, off, got, tc.wantOff, tc.want)
		}
	}
}

func TestLeftAlone(t *testing.T) {
	f, err := Read([]byte("FROM debian\n# autocache: off\nRUN apt-get install -y curl\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.LeftAlone(); !maps.Equal(got, map[int]string{3: "`# autocache: off` on line 2"}) {
		t.Fatalf("got %v", got)
	}
}

// Real Dockerfiles say nothing to autocache: none of the corpus reads as a
// setting or an error (the spellings are specific enough).
func TestCorpusSaysNothing(t *testing.T) {
	files, _ := filepath.Glob("../pkgmgr/testdata/corpus/*")
	if len(files) < 100 {
		t.Fatalf("%d corpus files", len(files))
	}
	for _, file := range files {
		dt, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Read(dt)
		if err != nil || f.Off || f.Managers != nil || f.Line != 0 || len(f.Steps) != 0 {
			t.Errorf("%s: %+v, %v", file, f, err)
		}
	}
}
