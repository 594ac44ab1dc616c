package middleware

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bodypool/bodypool/bufpool"
)

func TestSmoke(t *testing.T) {
	p, _ := bufpool.New(bufpool.Config{Track: true, Poison: true})
	mw, err := New(Config{Pool: Pooled(p), MaxRequestBody: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		w.Write(Body(r))
	})))
	defer srv.Close()
	for _, n := range []int{0, 1, 1000, 100_000, 1 << 20, 1<<20 + 1} {
		body := bytes.Repeat([]byte("a"), n)
		resp, err := http.Post(srv.URL, "text/plain", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("n=%d status=%d len=%d cl=%q", n, resp.StatusCode, len(got), resp.Header.Get("Content-Length"))
		if n <= 1<<20 && !bytes.Equal(got, body) {
			t.Errorf("n=%d: wrong body", n)
		}
		if n > 1<<20 && (resp.StatusCode != 413 || !strings.Contains(string(got), "limit")) {
			t.Errorf("n=%d: %d %s", n, resp.StatusCode, got)
		}
	}
	if err := p.CheckLeaks(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", p.Stats().Total)
}
