package pkgserver

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestParseProfile(t *testing.T) {
	for in, want := range map[string]Profile{
		"":               {},
		"50Mbit,30ms":    {Rate: 50e6 / 8, Latency: 30 * time.Millisecond},
		"800kbit,0s":     {Rate: 800e3 / 8},
		"1G,1s":          {Rate: 1e9 / 8, Latency: time.Second},
		" 10Mbit , 5ms ": {Rate: 10e6 / 8, Latency: 5 * time.Millisecond},
	} {
		got, err := ParseProfile(in)
		if err != nil || got != want {
			t.Errorf("ParseProfile(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"50Mbit", "fast,30ms", "0Mbit,30ms", "50Mbit,soon", "50Mbit,-1s"} {
		if _, err := ParseProfile(bad); err == nil {
			t.Errorf("ParseProfile(%q): no error", bad)
		}
	}
}

// TestThrottle: a lower bound only (a slow machine can't make it fail):
// 256 KiB at 2 Mbit/s take at least ~1 s, and every request waits the
// latency; /stats is never throttled.
func TestThrottle(t *testing.T) {
	body := make([]byte, 256<<10)
	h := Throttle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }),
		Profile{Rate: 2e6 / 8, Latency: 200 * time.Millisecond})
	ts := httptest.NewServer(h)
	defer ts.Close()
	get := func(path string) time.Duration {
		start := time.Now()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != int64(len(body)) {
			t.Fatalf("%s: %d bytes, want %d", path, n, len(body))
		}
		return time.Since(start)
	}
	// (256 KiB - the 16 KiB burst) / 250 kB/s ≈ 0.98 s, plus the latency.
	if d := get("/pypi/files/x.whl"); d < 1100*time.Millisecond {
		t.Errorf("a throttled download took %v, want at least 1.1 s", d)
	}
	if d := get("/stats"); d > 900*time.Millisecond {
		t.Errorf("/stats took %v: it must not be throttled", d)
	}
}
