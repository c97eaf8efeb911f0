package rewrite

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"mvdan.cc/sh/v3/syntax"
)

// Mount flags, the stage of generated files and environment changes, in
// Dockerfile syntax.

// mountFlag joins a --mount flag's fields; a value that CSV or the
// flag's variable expansion would read differently is refused.
func mountFlag(kv []string) (string, error) {
	for _, f := range kv {
		if strings.ContainsAny(f, ",\"'$\\` \t\n") {
			return "", fmt.Errorf("%q can't be written in a --mount flag", f)
		}
	}
	return "--mount=" + strings.Join(kv, ","), nil
}

// envPrefix writes the step's environment changes as the start of its
// script: a Dockerfile can set or unset a variable only for every later
// step of a stage (ENV, ARG), not for one. Dropped variables are unset,
// set ones exported, as the shell then runs the rest.
func envPrefix(before, after []string) (string, error) {
	inAfter := map[string]bool{}
	for _, kv := range after {
		inAfter[kv] = true
	}
	keys := map[string]bool{}
	for _, kv := range after {
		k, _, _ := strings.Cut(kv, "=")
		keys[k] = true
	}
	var unset, export []string
	for _, kv := range before {
		k, _, _ := strings.Cut(kv, "=")
		if !keys[k] && !slices.Contains(unset, k) {
			unset = append(unset, k)
		}
	}
	inBefore := map[string]bool{}
	for _, kv := range before {
		inBefore[kv] = true
	}
	for _, kv := range after {
		if inBefore[kv] {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		q, err := syntax.Quote(v, syntax.LangPOSIX)
		if err != nil || !syntax.ValidName(k) {
			return "", fmt.Errorf("can't write %q for a shell", kv)
		}
		export = append(export, k+"="+q)
	}
	sort.Strings(unset)
	sort.Strings(export)
	var b strings.Builder
	if len(unset) > 0 {
		b.WriteString("unset " + strings.Join(unset, " ") + "; ")
	}
	if len(export) > 0 {
		b.WriteString("export " + strings.Join(export, " ") + "; ")
	}
	return b.String(), nil
}

// decode indexes a definition's ops by digest.
func decode(def *pb.Definition) map[digest.Digest]*pb.Op {
	out := map[digest.Digest]*pb.Op{}
	for _, dt := range def.GetDef() {
		var op pb.Op
		if err := op.Unmarshal(dt); err == nil {
			out[digest.FromBytes(dt)] = &op
		}
	}
	return out
}

// filesStage is the stage of generated files: one heredoc COPY each.
type filesStage struct {
	name  string
	files []genFile
}

type genFile struct {
	name string // absolute path in the stage
	data []byte
}

// add gives the path of a file with these contents in the stage, adding it
// once; base names the file.
func (s *filesStage) add(base string, data []byte) (string, error) {
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return "", fmt.Errorf("generated file %s does not end in a newline: a heredoc can't say that", base)
	}
	name := "/" + base
	for i := 2; ; i++ {
		j := slices.IndexFunc(s.files, func(f genFile) bool { return f.name == name })
		if j < 0 {
			break
		}
		if bytes.Equal(s.files[j].data, data) {
			return name, nil
		}
		name = "/" + base + "-" + strconv.Itoa(i)
	}
	s.files = append(s.files, genFile{name: name, data: data})
	return name, nil
}

// text is the stage in Dockerfile syntax.
func (s *filesStage) text() string {
	var b strings.Builder
	b.WriteString("# Files autocache generates for the steps that mount them (autocache rewrite).\n")
	b.WriteString("FROM scratch AS " + s.name + "\n")
	for _, f := range s.files {
		eof := "EOF"
		for i := 2; bytes.Contains(append([]byte("\n"), f.data...), []byte("\n"+eof+"\n")); i++ {
			eof = "EOF" + strconv.Itoa(i)
		}
		b.WriteString("COPY <<\"" + eof + "\" " + f.name + "\n")
		b.Write(f.data)
		b.WriteString(eof + "\n")
	}
	b.WriteString("\n")
	return b.String()
}
