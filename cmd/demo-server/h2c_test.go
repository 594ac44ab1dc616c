package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bodypool/bodypool/internal/demo"
)

// TestH2CAndRequestLog serves HTTP/2 without TLS and logs requests.
func TestH2CAndRequestLog(t *testing.T) {
	t.Parallel()
	s := startServer(t, []string{"-pool", demo.ModeSyncPool, "-h2c", "-log-requests"})
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	h2 := &http.Client{Transport: tr, Timeout: requestTimeout}

	body := randomBytes(300 << 10)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/echo", bytes.NewReader(body))
	resp, err := h2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
		t.Errorf("POST /echo over h2c: %s, status %d, %d bytes back (equal %t), %v", resp.Proto, resp.StatusCode, len(got), bytes.Equal(got, body), err)
	}
	s.expectStatus(t, http.StatusOK, http.MethodGet, "/blob?size=10", nil) // HTTP/1.1 still works
	if !eventually(5*time.Second, func() bool {
		out := s.Stdout()
		return strings.Contains(out, "\nPOST /echo 200 ") && strings.Contains(out, "\nGET /blob?size=10 200 ")
	}) {
		t.Errorf("no request log lines on stdout:\n%s", s.Stdout())
	}
}
