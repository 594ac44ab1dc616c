package main

import (
	"context"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bodypool/bodypool/internal/demo"
)

// TestGracefulShutdown stops the server while an event stream is in
// flight: the stream completes, and the server exits 0 once it has.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	const n, interval, grace = 5, 300 * time.Millisecond, 5 * time.Second
	s := startServer(t, append(modeArgs(demo.ModeSized), "-grace", grace.String()))
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	resp := s.getEvents(t, ctx, n, interval)
	defer resp.Body.Close()

	var signalled time.Time
	evs, err := readEvents(resp.Body, func(ev event) {
		if ev.n != 0 {
			return
		}
		signalled = time.Now()
		s.Signal(syscall.SIGTERM)
		// The listener closes at once: new connections are refused while
		// the stream goes on.
		refused := eventually(5*time.Second, func() bool {
			conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
			if err == nil {
				conn.Close()
			}
			return err != nil
		})
		if !refused {
			t.Errorf("the server still accepts connections after SIGTERM")
		}
	})
	if err != nil {
		t.Fatalf("the stream broke after %d events: %v", len(evs), err)
	}
	checkEvents(t, evs, n, interval)
	if signalled.IsZero() || !evs[n-1].sent.After(signalled) {
		t.Errorf("SIGTERM at %s, not before the last event was sent at %s", signalled, evs[n-1].sent)
	}
	s.Wait(grace + exitTimeout) // stop reports how it exited
	if d := time.Since(signalled); d >= grace {
		t.Errorf("the server exited %s after SIGTERM, beyond the grace period of %s", d, grace)
	}
	s.stop(0)
}

// TestShutdownGraceExceeded stops the server while an event stream is in
// flight that outlasts -grace: the stream is cut off after the grace
// period and the server says so.
func TestShutdownGraceExceeded(t *testing.T) {
	t.Parallel()
	const grace = 300 * time.Millisecond
	s := startServer(t, []string{"-pool", demo.ModeNone, "-grace", grace.String()})
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	resp := s.getEvents(t, ctx, 10, time.Second)
	defer resp.Body.Close()

	var signalled time.Time
	evs, err := readEvents(resp.Body, func(ev event) {
		if ev.n == 0 {
			signalled = time.Now()
			s.Signal(syscall.SIGTERM)
		}
	})
	if err == nil || len(evs) == 0 || len(evs) >= 10 {
		t.Errorf("got %d events and error %v; want the stream cut off after the first", len(evs), err)
	}
	if d := time.Since(signalled); d < grace {
		t.Errorf("the stream was cut off %s after SIGTERM, within the grace period of %s", d, grace)
	}
	s.Wait(grace + exitTimeout) // stop reports how it exited
	s.stop(0)
	if out := s.Stdout(); !strings.Contains(out, "demo-server: requests still running after the grace period of 300ms were cut off\n") {
		t.Errorf("stdout does not report the cut-off requests:\n%s", out)
	}
}
