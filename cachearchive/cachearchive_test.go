package cachearchive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"
)

// snapshot describes every entry under dir: type, mode, owner, contents
// or link target, and which entries share an inode.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	inodes := map[uint64]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v uid=%d gid=%d", fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			desc += " -> " + l
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			desc += fmt.Sprintf(" sha=%x", sha256.Sum256(b))
			if st.Nlink > 1 {
				if first, ok := inodes[st.Ino]; ok {
					desc += " linked to " + first
				} else {
					inodes[st.Ino] = rel
				}
			}
		}
		if rel != "." {
			out[rel] = desc
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// cacheTree fills dir the way caches look: nested directories, files of
// several modes and owners, symlinks, hard links, and names OCI layers
// treat specially.
func cacheTree(t *testing.T, dir string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Join(dir, "go-build/ab"), 0o755))
	must(t, os.MkdirAll(filepath.Join(dir, "empty"), 0o700))
	must(t, os.WriteFile(filepath.Join(dir, "go-build/ab/abcd-d"), []byte("object"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "go-build/README"), []byte("readme"), 0o444))
	must(t, os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, ".wh.notawhiteout"), []byte("x"), 0o644))
	must(t, os.Symlink("go-build/README", filepath.Join(dir, "link")))
	must(t, os.Symlink("/nowhere", filepath.Join(dir, "dangling")))
	must(t, os.Link(filepath.Join(dir, "tool"), filepath.Join(dir, "go-build/tool-hardlink")))
	if os.Geteuid() == 0 {
		must(t, os.Lchown(filepath.Join(dir, "go-build/ab/abcd-d"), 1000, 1001))
		must(t, os.Lchown(filepath.Join(dir, "empty"), 1000, 1000))
	}
}

func packed(t *testing.T, dir string) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Pack(context.Background(), dir, &buf)
	must(t, err)
	return buf.Bytes(), st
}

func expect(st Stats) Expect {
	return Expect{Digest: st.Digest, Size: st.Size, DiffID: st.DiffID, Files: st.Files, Bytes: st.Bytes}
}

func TestRoundTripKeepsOwnersModesLinks(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	cacheTree(t, src)
	arc, st := packed(t, src)
	if st.Files != 7 || st.Dirs != 3 || st.Bytes != int64(len("object")+len("readme")+len("#!/bin/sh\n")+1) {
		t.Errorf("stats %+v", st)
	}
	if st.Size != int64(len(arc)) || !strings.HasPrefix(st.Digest, "sha256:") {
		t.Errorf("stats %+v for %d bytes", st, len(arc))
	}
	res, err := Unpack(context.Background(), dst, bytes.NewReader(arc), expect(st))
	must(t, err)
	if res.Added != 7 || res.Kept != 0 || res.Stats != st {
		t.Errorf("result %+v, packed %+v", res, st)
	}
	want, got := snapshot(t, src), snapshot(t, dst)
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Fatalf("unpacked tree differs:\n want %v\n  got %v", want, got)
	}
	if !strings.Contains(got["tool"]+got["go-build/tool-hardlink"], "linked to") {
		t.Errorf("hard link lost: %v", got)
	}
}

func TestUnpackMergesAndIsIdempotent(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	cacheTree(t, src)
	arc, st := packed(t, src)
	// The builder's cache already has some of it, differently, and more.
	must(t, os.MkdirAll(filepath.Join(dst, "go-build"), 0o755))
	must(t, os.WriteFile(filepath.Join(dst, "go-build/README"), []byte("the builder's own"), 0o644))
	must(t, os.WriteFile(filepath.Join(dst, "mine"), []byte("mine"), 0o644))
	must(t, os.Symlink("/etc", filepath.Join(dst, "empty"))) // where the archive has a directory
	res, err := Unpack(context.Background(), dst, bytes.NewReader(arc), expect(st))
	must(t, err)
	if res.Kept != 1 || res.Added != 6 {
		t.Errorf("result %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "go-build/README")); string(b) != "the builder's own" {
		t.Errorf("an existing file was replaced: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "mine")); string(b) != "mine" {
		t.Error("an existing file was lost")
	}
	if l, _ := os.Readlink(filepath.Join(dst, "empty")); l != "/etc" {
		t.Error("an existing symlink was replaced")
	}
	if _, err := os.Stat(filepath.Join(dst, "go-build/ab/abcd-d")); err != nil {
		t.Error(err)
	}
	before := snapshot(t, dst)
	res, err = Unpack(context.Background(), dst, bytes.NewReader(arc), expect(st))
	must(t, err)
	if res.Added != 0 || res.Kept != 7 {
		t.Errorf("second import: %+v", res)
	}
	if after := snapshot(t, dst); fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("second import changed the cache:\n%v\n%v", before, after)
	}
}

// A bad archive is an ErrCorrupt naming what is wrong, and the cache is
// as it was: nothing added, no staging directory left.
func TestBadArchivesLeaveTheCacheUntouched(t *testing.T) {
	src := t.TempDir()
	cacheTree(t, src)
	// Enough incompressible data that a cut falls inside a file.
	big := make([]byte, 256<<10)
	for i := range big {
		big[i] = byte(i*7919 + i/251)
	}
	must(t, os.WriteFile(filepath.Join(src, "big"), big, 0o644))
	arc, st := packed(t, src)
	flipped := bytes.Clone(arc)
	flipped[len(flipped)/2] ^= 0xff
	for name, tc := range map[string]struct {
		data []byte
		want Expect
		err  string
	}{
		"truncated":               {data: arc[:len(arc)/2], want: expect(st), err: "unexpected EOF"},
		"truncated, no record":    {data: arc[:len(arc)-5], err: "unexpected EOF"},
		"corrupt":                 {data: flipped, want: expect(st)},
		"not gzip":                {data: []byte("PK\x03\x04 a zip file"), err: "invalid header"},
		"empty":                   {data: nil, err: "EOF"},
		"another archive's":       {data: arc, want: Expect{Digest: "sha256:" + strings.Repeat("0", 64)}, err: "digest sha256:"},
		"wrong size":              {data: arc, want: Expect{Size: st.Size + 1}, err: "bytes, the exporter wrote"},
		"wrong file count":        {data: arc, want: Expect{Files: st.Files + 1}, err: "files, the exporter wrote"},
		"trailing garbage":        {data: append(bytes.Clone(arc), "garbage"...)},
		"truncated, right digest": {data: arc[:len(arc)-100], want: Expect{}, err: "unexpected EOF"},
	} {
		dst := t.TempDir()
		must(t, os.WriteFile(filepath.Join(dst, "mine"), []byte("mine"), 0o644))
		before := snapshot(t, dst)
		_, err := Unpack(context.Background(), dst, bytes.NewReader(tc.data), tc.want)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want ErrCorrupt with %q", name, err, tc.err)
		}
		if after := snapshot(t, dst); fmt.Sprint(before) != fmt.Sprint(after) {
			t.Errorf("%s: the cache changed:\n%v\n%v", name, before, after)
		}
	}
}

// Entries that point outside the cache stay inside it.
func TestUnpackStaysInside(t *testing.T) {
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, h := range []*tar.Header{
		{Name: "../escape", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
		{Name: "abs", Typeflag: tar.TypeSymlink, Linkname: "/", Mode: 0o777},
		{Name: "abs/etc-file", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
		{Name: "hl", Typeflag: tar.TypeLink, Linkname: "../../outside"},
	} {
		must(t, tw.WriteHeader(h))
		if h.Size > 0 {
			_, _ = tw.Write([]byte("x"))
		}
	}
	must(t, tw.Close())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(tarBuf.Bytes())
	must(t, zw.Close())
	parent := t.TempDir()
	dst := filepath.Join(parent, "cache")
	must(t, os.Mkdir(dst, 0o755))
	_, _ = Unpack(context.Background(), dst, bytes.NewReader(gz.Bytes()), Expect{})
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Errorf("written outside the cache: %v", entries)
	}
	if _, err := os.Stat("/etc-file"); err == nil {
		t.Error("written through a symlink out of the cache")
	}
}

func TestPackLeavesOutStaging(t *testing.T) {
	src := t.TempDir()
	must(t, os.WriteFile(filepath.Join(src, "f"), []byte("f"), 0o644))
	must(t, os.MkdirAll(filepath.Join(src, stagingPrefix+"123/tree/x"), 0o755))
	_, st := packed(t, src)
	if st.Files != 1 || st.Dirs != 0 {
		t.Errorf("stats %+v", st)
	}
}

// An import that died leaves its staging directory; the next import
// removes it, but never one whose import is still running.
func TestStaleStagingIsRemoved(t *testing.T) {
	dst := t.TempDir()
	stale := filepath.Join(dst, stagingPrefix+"dead")
	running := filepath.Join(dst, stagingPrefix+"running")
	for _, d := range []string{stale, running} {
		must(t, os.MkdirAll(filepath.Join(d, "tree"), 0o755))
		must(t, os.WriteFile(filepath.Join(d, "lock"), nil, 0o600))
	}
	f, err := os.OpenFile(filepath.Join(running, "lock"), os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	must(t, unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB))
	src := t.TempDir()
	must(t, os.WriteFile(filepath.Join(src, "f"), []byte("f"), 0o644))
	arc, st := packed(t, src)
	if _, err := Unpack(context.Background(), dst, bytes.NewReader(arc), expect(st)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("the dead import's staging directory is still there")
	}
	if _, err := os.Stat(running); err != nil {
		t.Error("the running import's staging directory was removed")
	}
}

func TestHelperMain(t *testing.T) {
	src, out, dst := t.TempDir(), t.TempDir(), t.TempDir()
	cacheTree(t, src)
	var stderr bytes.Buffer
	if code := Main(context.Background(), []string{"pack", src, out}, &stderr); code != 0 {
		t.Fatalf("pack: %d %s", code, stderr.String())
	}
	if code := Main(context.Background(), []string{"unpack", "--files", "7", src + "/../nonexistent", filepath.Join(out, ArchiveFile), out}, &stderr); code != 1 ||
		!strings.HasPrefix(stderr.String(), ErrorPrefix) {
		t.Fatalf("unpack into a missing directory: %d %q", code, stderr.String())
	}
	stderr.Reset()
	if code := Main(context.Background(), []string{"unpack", "--files", "7", dst, filepath.Join(out, ArchiveFile), out}, &stderr); code != 0 {
		t.Fatalf("unpack: %d %s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(out, ResultFile)); err != nil {
		t.Fatal(err)
	}
	if code := Main(context.Background(), []string{"unpack", "--files", "8", dst, filepath.Join(out, ArchiveFile), out}, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "7 files, the exporter wrote 8") {
		t.Fatalf("unpack with the wrong count: %d %q", code, stderr.String())
	}
	for _, args := range [][]string{nil, {"pack"}, {"frobnicate"}, {"unpack", "--bogus", "a", "b", "c"}} {
		if code := Main(context.Background(), args, &stderr); code != 1 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}
