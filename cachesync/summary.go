package cachesync

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
)

func humanSize(n int64) string { return units.BytesSize(float64(n)) }

// ParseSize reads a size such as 500MB, 2g or 1.5GiB (powers of 1024, as
// docker's --memory).
func ParseSize(s string) (int64, error) {
	n, err := units.RAMInBytes(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 500MB, 2GB)", s)
	}
	return n, nil
}

// Print writes the summary: one line per cache moved (id, files, bytes,
// archive size, seconds), the caches left out and why, and the total.
func (s *Summary) Print(w io.Writer) {
	verb, prep := "imported", "from"
	if s.Export {
		verb, prep = "exported", "to"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "files\tbytes\tarchive\tseconds\t"
	if !s.Export {
		head = "files\tnew\tbytes\tarchive\tseconds\t"
	}
	fmt.Fprintf(tw, "%s\tcache\t\n", head)
	var files, bytes, size int64
	for _, m := range s.Moved {
		files += m.Stats.Files
		bytes += m.Stats.Bytes
		size += m.Stats.Size
		cols := []string{strconv.FormatInt(m.Stats.Files, 10)}
		if !s.Export {
			cols = append(cols, strconv.FormatInt(m.Added, 10))
		}
		cols = append(cols, humanSize(m.Stats.Bytes), humanSize(m.Stats.Size), seconds(m.Duration))
		fmt.Fprintf(tw, "%s\t\t%s\n", strings.Join(cols, "\t"), m.Cache)
	}
	tw.Flush()
	for _, sk := range s.Skipped {
		fmt.Fprintf(w, "skipped %s: %s\n", sk.Cache, sk.Reason)
	}
	for _, f := range s.Failed {
		fmt.Fprintf(w, "FAILED %s: %v\n", f.Cache, f.Err)
	}
	fmt.Fprintf(w, "%s %d caches %s %s: %d files, %s (archives %s) in %ss\n",
		verb, len(s.Moved), prep, s.Where, files, humanSize(bytes), humanSize(size), seconds(s.Duration))
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) }
