package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestPlanJSONFromStdin(t *testing.T) {
	df := "FROM python:3.11-slim\nRUN pip install --no-cache-dir flask\n"
	code, out, errs := runCLI(t, df, "plan", "--offline", "--format", "json", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Steps []struct {
			Line     int
			Managers []string
			Args     []string
			Mounts   []struct{ Type, Target, ID, Sharing string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Steps) != 1 || rep.Steps[0].Line != 2 || rep.Steps[0].Managers[0] != "pip" {
		t.Fatalf("%+v", rep)
	}
	if m := rep.Steps[0].Mounts[0]; m.Target != "/root/.cache/pip" || m.ID != "//root/.cache/pip" || m.Sharing != "shared" {
		t.Fatalf("mount %+v", m)
	}
	if got := rep.Steps[0].Args[2]; got != "pip install flask" {
		t.Fatalf("args %q", got)
	}
}

func TestPlanTextFromDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/Dockerfile", []byte("FROM node:18-slim\nWORKDIR /app\nRUN npm ci\nRUN npm run build\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "", "plan", "--offline", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "Dockerfile:3") || !strings.Contains(out, "+ cache /root/.npm") || !strings.Contains(out, "1 of 2 RUN steps") {
		t.Fatalf("text output:\n%s", out)
	}
}

func TestPlanParseErrorExitsNonZeroWithLine(t *testing.T) {
	for _, c := range []struct{ dockerfile, msg string }{
		{"FROM debian\nRUN true\nRUNN apt-get install x\n", "unknown instruction: RUNN"},
		{"FROM scratch\nARG EMPTY\nFROM $EMPTY\n", "base name ($EMPTY) should not be blank"}, // no line in the message
	} {
		code, _, errs := runCLI(t, c.dockerfile, "plan", "--offline", "-")
		if code == 0 {
			t.Fatal("broken Dockerfile planned")
		}
		if !strings.Contains(errs, "autocache plan: Dockerfile:3: ") || !strings.Contains(errs, c.msg) || !strings.Contains(errs, " 3 | >>> ") {
			t.Errorf("stderr:\n%s", errs)
		}
	}
}

func TestPlanOptOutAndManagers(t *testing.T) {
	df := "FROM debian\nRUN apt-get update && apt-get install -y curl && pip install x\n"
	_, out, _ := runCLI(t, df, "plan", "--offline", "--format", "json", "--build-arg", "AUTOCACHE=off", "-")
	if strings.Contains(out, `"type": "cache"`) || !strings.Contains(out, `"cached": []`) {
		t.Fatalf("AUTOCACHE=off still plans caches:\n%s", out)
	}
	_, out, _ = runCLI(t, df, "plan", "--offline", "--format", "json", "--build-arg", "AUTOCACHE_MANAGERS=pip", "-")
	if strings.Contains(out, "/var/cache/apt") || !strings.Contains(out, "/root/.cache/pip") {
		t.Fatalf("AUTOCACHE_MANAGERS=pip:\n%s", out)
	}
}

func TestUsage(t *testing.T) {
	if code, _, _ := runCLI(t, ""); code != 2 {
		t.Fatal("no command should exit 2")
	}
	if code, _, _ := runCLI(t, "", "plan", "--format", "yaml", "-"); code != 2 {
		t.Fatal("bad format should exit 2")
	}
}

func TestPlanScopeAndStages(t *testing.T) {
	df := "FROM debian AS base\nRUN apt-get install -y curl\nFROM python:3.11-slim\nRUN pip install flask\nRUN make\n"
	code, out, errs := runCLI(t, df, "plan", "--offline", "--format", "json", "--platform", "linux/arm64",
		"--build-arg", "AUTOCACHE_SCOPE=team-a", "--target", "base", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Steps []struct {
			Mounts []struct{ Type, Target, ID string }
		}
		Stages []struct {
			Stage  string
			Cached []string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if m := rep.Steps[0].Mounts[0]; m.Target != "/var/cache/apt" || m.ID != "/@team-a/linux/arm64//var/cache/apt" {
		t.Fatalf("mount %+v", m)
	}
	if len(rep.Stages) != 1 || rep.Stages[0].Stage != "base" || len(rep.Stages[0].Cached) != 1 || rep.Stages[0].Cached[0] != "/var/cache/apt" {
		t.Fatalf("stages %+v", rep.Stages)
	}

	// The same validation as the frontend: the build-arg is named.
	code, _, errs = runCLI(t, df, "plan", "--offline", "--build-arg", "AUTOCACHE_SCOPE=a/b", "-")
	if code != 2 || !strings.Contains(errs, "AUTOCACHE_SCOPE") {
		t.Fatalf("exit %d: %s", code, errs)
	}

	code, out, errs = runCLI(t, df, "plan", "--offline", "-")
	if code != 0 || !strings.Contains(out, "Cache-backed directories") || !strings.Contains(out, "    [1]  /root/.cache/pip\n") {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
}
