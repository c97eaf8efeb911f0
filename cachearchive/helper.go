package cachearchive

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// HelperCommand is the hidden subcommand of the frontend binary that runs
// Main: autocache-frontend cache-helper pack|unpack ….
const HelperCommand = "cache-helper"

// Files the helper writes into its output directory.
const (
	ArchiveFile = "cache.tar.gz" // pack: the archive
	StatsFile   = "stats.json"   // pack: its Stats
	ResultFile  = "result.json"  // unpack: the Result
)

// ErrorPrefix starts the helper's error line on stderr, so that the client
// can tell it apart from the build's other output.
const ErrorPrefix = "autocache-helper: error: "

// Main runs the helper:
//
//	pack CACHE_DIR OUT_DIR
//	unpack [--digest D --size N --diff-id D --files N --bytes N] CACHE_DIR ARCHIVE OUT_DIR
//
// It returns the exit code; errors go to stderr as one line after
// ErrorPrefix.
func Main(ctx context.Context, args []string, stderr io.Writer) int {
	if err := run(ctx, args); err != nil {
		fmt.Fprintf(stderr, "%s%v\n", ErrorPrefix, err)
		return 1
	}
	return 0
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: %s pack|unpack …", HelperCommand)
	}
	switch args[0] {
	case "pack":
		if len(args) != 3 {
			return fmt.Errorf("usage: %s pack CACHE_DIR OUT_DIR", HelperCommand)
		}
		return pack(ctx, args[1], args[2])
	case "unpack":
		fl := flag.NewFlagSet("unpack", flag.ContinueOnError)
		fl.SetOutput(io.Discard)
		var want Expect
		fl.StringVar(&want.Digest, "digest", "", "")
		fl.Int64Var(&want.Size, "size", 0, "")
		fl.StringVar(&want.DiffID, "diff-id", "", "")
		fl.Int64Var(&want.Files, "files", 0, "")
		fl.Int64Var(&want.Bytes, "bytes", 0, "")
		if err := fl.Parse(args[1:]); err != nil {
			return err
		}
		if fl.NArg() != 3 {
			return fmt.Errorf("usage: %s unpack [flags] CACHE_DIR ARCHIVE OUT_DIR", HelperCommand)
		}
		return unpack(ctx, fl.Arg(0), fl.Arg(1), fl.Arg(2), want)
	}
	return fmt.Errorf("unknown helper command %q", args[0])
}

func pack(ctx context.Context, dir, out string) error {
	f, err := os.Create(filepath.Join(out, ArchiveFile))
	if err != nil {
		return err
	}
	st, err := Pack(ctx, dir, f)
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err != nil {
		return err
	}
	return writeJSON(filepath.Join(out, StatsFile), st)
}

func unpack(ctx context.Context, dir, archivePath, out string, want Expect) error {
	f, err := os.Open(archivePath)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := Unpack(ctx, dir, f, want)
	if err != nil {
		return err
	}
	return writeJSON(filepath.Join(out, ResultFile), res)
}

func writeJSON(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(name, b, 0o644)
}
