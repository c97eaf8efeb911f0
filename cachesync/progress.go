package cachesync

import (
	"context"
	"io"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/identity"
	"github.com/moby/buildkit/util/progress/progressui"
	digest "github.com/opencontainers/go-digest"
)

// Progress shows the copies' progress as buildctl shows a build's: one
// display for every solve of a command, plus steps of the client's own
// (reading, writing, pushing archives).
type Progress struct {
	ch   chan *client.SolveStatus
	done chan struct{}
}

// NewProgress starts a display on w in mode (auto, plain, tty, quiet,
// rawjson). Stop it with Stop.
func NewProgress(w io.Writer, mode string) (*Progress, error) {
	d, err := progressui.NewDisplay(w, progressui.DisplayMode(mode))
	if err != nil {
		return nil, err
	}
	p := &Progress{ch: make(chan *client.SolveStatus), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		_, _ = d.UpdateFrom(context.Background(), p.ch)
	}()
	return p, nil
}

// Stop ends the display and waits for it to print its last lines.
func (p *Progress) Stop() {
	if p == nil {
		return
	}
	close(p.ch)
	<-p.done
}

// forward copies a solve's statuses into the display (if any), keeping its
// logs in logs; the channel it returns is closed when ch is.
func (p *Progress) forward(ch chan *client.SolveStatus, logs *logTail) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range ch {
			for _, l := range s.Logs {
				logs.add(l.Data)
			}
			if p != nil {
				p.ch <- s
			}
		}
	}()
	return done
}

// Step shows a step of the client's own, such as pushing to a registry,
// while fn runs.
func (p *Progress) Step(name string, fn func() error) error {
	if p == nil {
		return fn()
	}
	dgst := digest.FromString(identity.NewID())
	start := time.Now()
	v := &client.Vertex{Digest: dgst, Name: name, Started: &start}
	p.ch <- &client.SolveStatus{Vertexes: []*client.Vertex{v}}
	err := fn()
	end := time.Now()
	v2 := *v
	v2.Completed = &end
	if err != nil {
		v2.Error = err.Error()
	}
	p.ch <- &client.SolveStatus{Vertexes: []*client.Vertex{&v2}}
	return err
}
