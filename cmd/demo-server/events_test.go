package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// event is one server-sent event as received.
type event struct {
	id      string
	n       int
	sent    time.Time // by the server's clock
	arrived time.Time
}

// readEvents reads server-sent events from r until it ends, calling each
// for every event as it arrives.
func readEvents(r io.Reader, each func(event)) ([]event, error) {
	var evs []event
	var ev event
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" {
				return evs, nil
			}
			return evs, err
		}
		switch line = strings.TrimSuffix(line, "\n"); {
		case line == "":
			ev.arrived = time.Now()
			evs = append(evs, ev)
			if each != nil {
				each(ev)
			}
			ev = event{}
		case strings.HasPrefix(line, "id: "):
			ev.id = line[len("id: "):]
		case strings.HasPrefix(line, "data: "):
			var d struct {
				N    int       `json:"n"`
				Sent time.Time `json:"sent"`
			}
			if err := json.Unmarshal([]byte(line[len("data: "):]), &d); err != nil {
				return evs, fmt.Errorf("event data %q: %v", line, err)
			}
			ev.n, ev.sent = d.N, d.Sent
		default:
			return evs, fmt.Errorf("unexpected line %q", line)
		}
	}
}

// getEvents opens an event stream; the caller closes the body.
func (s *server) getEvents(t testing.TB, ctx context.Context, n int, interval time.Duration) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/events?n=%d&interval=%s", s.url, n, interval), nil)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-cache" {
		resp.Body.Close()
		t.Fatalf("GET /events: status %d, header %v", resp.StatusCode, resp.Header)
	}
	return resp
}

// checkEvents checks that evs are the n events of one stream, sent at
// least interval apart.
func checkEvents(t testing.TB, evs []event, n int, interval time.Duration) {
	t.Helper()
	if len(evs) != n {
		t.Fatalf("got %d events, want %d: %+v", len(evs), n, evs)
	}
	for i, ev := range evs {
		if ev.id != strconv.Itoa(i) || ev.n != i {
			t.Errorf("event %d has id %q and n %d", i, ev.id, ev.n)
		}
		// The server's timer waits at least interval after the previous
		// event was stamped; a millisecond spares clock adjustments.
		if i > 0 && ev.sent.Sub(evs[i-1].sent) < interval-time.Millisecond {
			t.Errorf("event %d sent %s after event %d, want at least %s", i, ev.sent.Sub(evs[i-1].sent), i-1, interval)
		}
	}
}

func testEvents(t *testing.T, s *server, mode string) {
	const n, interval = 3, 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	resp := s.getEvents(t, ctx, n, interval)
	evs, err := readEvents(resp.Body, nil)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading events: %v", err)
	}
	checkEvents(t, evs, n, interval)
	// Streamed, not buffered: the first event arrived before the last was
	// sent, and the events arrived spread over the stream's duration.
	first, last := evs[0], evs[n-1]
	if !first.arrived.Before(last.sent) {
		t.Errorf("the first event arrived at %s, not before the last was sent at %s", first.arrived, last.sent)
	}
	if gap := last.arrived.Sub(first.arrived); gap < (n-1)*interval*8/10 {
		t.Errorf("events arrived within %s, want them spread over at least %s", gap, (n-1)*interval*8/10)
	}

	resp, b := s.do(t, http.MethodGet, "/events?n=1&interval=0s", nil)
	if evs, err := readEvents(bytes.NewReader(b), nil); resp.StatusCode != http.StatusOK || err != nil || len(evs) != 1 {
		t.Errorf("GET /events?n=1&interval=0s: status %d, %d events, %v", resp.StatusCode, len(evs), err)
	}
	for _, q := range []string{"n=0", "n=-1", "n=x", "n=1001", "interval=x", "interval=-1s", "interval=11s", "n=1000&interval=1s", "n=3&interval=1"} {
		s.expectStatus(t, http.StatusBadRequest, http.MethodGet, "/events?"+q, nil)
	}
}
