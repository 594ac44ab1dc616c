package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/bodypool/bodypool/internal/demo"
)

// TestBudget holds most of a 1 MiB in-use budget with slow uploads, which
// declare 1 MiB, send 200 KiB and stall, so that the server holds their
// buffers. An upload that needs more than the rest is refused with 503
// and Retry-After once -budget-wait has passed; when the slow uploads go
// away, the budget is free again.
func TestBudget(t *testing.T) {
	t.Parallel()
	s := startServer(t, []string{"-pool", demo.ModeSized, "-track", "-poison", "-budget", "1MiB", "-budget-wait", "50ms"})
	const slow, sent = 3, 200 << 10
	addr := s.Addr
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range slow {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		conn.SetWriteDeadline(time.Now().Add(requestTimeout))
		fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", addr, 1<<20)
		if _, err := conn.Write(randomBytes(sent)); err != nil {
			t.Fatal(err)
		}
		// Wait until the server holds what this upload sent, so that the
		// uploads grow one at a time and each fits.
		var used float64
		if !eventually(10*time.Second, func() bool {
			used = s.scrape(t).Sum("bufpool_budget_used_bytes")
			return used >= float64((i+1)*sent)
		}) {
			t.Fatalf("after %d slow uploads of %d bytes the budget in use is %g bytes", i+1, sent, used)
		}
	}

	// The rest of the budget is at most 1 MiB - 600 KiB: a 512 KiB body
	// cannot fit.
	resp, b := s.do(t, http.MethodPost, "/upload", bytes.NewReader(randomBytes(512<<10)))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("an upload beyond the budget: status %d, want 503; body %q", resp.StatusCode, b)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("503 with Retry-After %q, want a number of seconds", resp.Header.Get("Retry-After"))
	}
	if v := s.scrape(t).Sum("bufpool_budget_rejections_total"); v < 1 {
		t.Errorf("bufpool_budget_rejections_total = %g, want at least 1", v)
	}
	// A small body still fits beside the slow uploads.
	s.expectStatus(t, http.StatusOK, http.MethodPost, "/upload", bytes.NewReader(randomBytes(1000)))

	// The slow uploads were neither answered nor refused meanwhile.
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("slow upload %d got a response: %d bytes, %v", i, n, err)
		}
		c.Close()
	}
	conns = nil
	var used float64
	if !eventually(10*time.Second, func() bool {
		used = s.scrape(t).Sum("bufpool_budget_used_bytes")
		return used == 0
	}) {
		t.Errorf("after the slow uploads went away the budget in use is %g bytes, want 0", used)
	}
	s.expectStatus(t, http.StatusOK, http.MethodPost, "/upload", bytes.NewReader(randomBytes(512<<10)))
}
