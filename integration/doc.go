// Package integration holds the end-to-end tests (build tag e2e) that run
// the autocache frontend image on a real buildkitd with real package
// managers against hermetic registries. Run them with `make test`; the
// engine itself is integration/engine.
package integration
