// Command pkgserver runs the hermetic package registry of the end-to-end
// tests (apt, PyPI, npm, a Go module proxy, a cargo sparse registry and a
// Maven repository on one address) until interrupted. See package pkgserver
// for the URL layout; GET / prints it.
//
//	pkgserver [-addr 127.0.0.1:5960] [-q] [-network 50Mbit,30ms]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/autocache/autocache/integration/pkgserver"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5960", "listen address (host:port; port 0 picks one)")
	quiet := flag.Bool("q", false, "do not log requests")
	network := flag.String("network", "", "a network profile RATE,LATENCY to serve packages through, e.g. 50Mbit,30ms (default: loopback speed)")
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}

	profile, err := pkgserver.ParseProfile(*network)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pkgserver:", err)
		os.Exit(2)
	}
	var logw io.Writer = os.Stderr
	if *quiet {
		logw = nil
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pkgserver:", err)
		os.Exit(1)
	}
	// Printed even with -q: with port 0 it is the only way to learn the port.
	fmt.Fprintf(os.Stderr, "pkgserver: listening on http://%s/\n", ln.Addr())

	srv := &http.Server{Handler: pkgserver.Throttle(pkgserver.New(logw), profile), ReadHeaderTimeout: 30 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "pkgserver:", err)
		os.Exit(1)
	}
}
