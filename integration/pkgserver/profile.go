package pkgserver

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Profile is a network to pretend the registries are behind: every request
// waits Latency before its answer starts, and all answers together are sent
// at no more than Rate bytes per second (one shared link, as a builder's
// uplink is). On loopback a download costs nothing, so without a profile the
// time a cache saves does not show.
type Profile struct {
	Rate    float64       // bytes per second; 0: unlimited
	Latency time.Duration // per request
}

// ParseProfile reads "RATE,LATENCY", e.g. "50Mbit,30ms": RATE in bit/s with
// an optional k, M or G prefix and a "bit" suffix, LATENCY a Go duration.
// "" is no profile.
func ParseProfile(s string) (Profile, error) {
	if s == "" {
		return Profile{}, nil
	}
	r, l, ok := strings.Cut(s, ",")
	if !ok {
		return Profile{}, fmt.Errorf("network profile %q: want RATE,LATENCY (e.g. 50Mbit,30ms)", s)
	}
	num := strings.TrimSuffix(strings.TrimSpace(r), "bit")
	mult := 1.0
	switch {
	case strings.HasSuffix(num, "k"):
		mult, num = 1e3, strings.TrimSuffix(num, "k")
	case strings.HasSuffix(num, "M"):
		mult, num = 1e6, strings.TrimSuffix(num, "M")
	case strings.HasSuffix(num, "G"):
		mult, num = 1e9, strings.TrimSuffix(num, "G")
	}
	bits, err := strconv.ParseFloat(num, 64)
	if err != nil || bits <= 0 {
		return Profile{}, fmt.Errorf("network profile %q: bad rate %q (e.g. 50Mbit)", s, r)
	}
	lat, err := time.ParseDuration(strings.TrimSpace(l))
	if err != nil || lat < 0 {
		return Profile{}, fmt.Errorf("network profile %q: bad latency %q (e.g. 30ms)", s, l)
	}
	return Profile{Rate: bits * mult / 8, Latency: lat}, nil
}

// String says what the profile is, for people.
func (p Profile) String() string {
	if p == (Profile{}) {
		return "none (loopback speed)"
	}
	return fmt.Sprintf("%g Mbit/s shared, %s per request", p.Rate*8/1e6, p.Latency)
}

// Throttle wraps h with the profile (h itself when there is none).
func Throttle(h http.Handler, p Profile) http.Handler {
	if p == (Profile{}) {
		return h
	}
	var lim *rate.Limiter
	if p.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(p.Rate), throttleChunk)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stats" || r.URL.Path == "/stats/reset" {
			h.ServeHTTP(w, r) // the tests' own questions are not traffic
			return
		}
		select {
		case <-time.After(p.Latency):
		case <-r.Context().Done():
			return
		}
		if lim != nil {
			w = &throttledWriter{ResponseWriter: w, ctx: r.Context(), lim: lim}
		}
		h.ServeHTTP(w, r)
	})
}

// throttleChunk is how many bytes go out per wait: small enough that
// concurrent answers share the link fairly.
const throttleChunk = 16 << 10

type throttledWriter struct {
	http.ResponseWriter
	ctx context.Context
	lim *rate.Limiter
}

func (w *throttledWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		c := min(len(b), throttleChunk)
		if err := w.lim.WaitN(w.ctx, c); err != nil {
			return n, err
		}
		m, err := w.ResponseWriter.Write(b[:c])
		n += m
		if err != nil {
			return n, err
		}
		b = b[c:]
	}
	return n, nil
}
