package reliability

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/middleware"
)

// TestUseAfterRelease keeps middleware.Body(r) past the handler's return,
// against the rule, and reads it once the response arrived, when the
// middleware has released it: in Poison mode every byte reads PoisonByte,
// not the request's data.
func TestUseAfterRelease(t *testing.T) {
	pool, err := bufpool.New(bufpool.Config{Track: true, Poison: true})
	if err != nil {
		t.Fatal(err)
	}
	mw, err := middleware.New(middleware.Config{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	kept := make(chan []byte, 1)
	ts := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kept <- middleware.Body(r)
		// Small enough to stay in the server's buffer until the handler
		// returned, and with it the middleware released the body.
		io.WriteString(w, "ok\n")
	})))
	defer ts.Close()

	// 5 MiB is beyond the pool's largest class: that buffer is dropped at
	// release, not kept, and must be poisoned all the same.
	for _, size := range []int{1, 511, 512, 4096, 100 << 10, 1 << 20, 5 << 20} {
		sent := randomBytes(t, size)
		resp, err := ts.Client().Post(ts.URL, "application/octet-stream", bytes.NewReader(sent))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		// The response came after the release: reading now is the late use
		// of a handler that kept the body.
		body := <-kept
		if len(body) != size {
			t.Fatalf("kept a body of %d bytes, sent %d", len(body), size)
		}
		for i, b := range body {
			if b != bufpool.PoisonByte {
				t.Fatalf("%d-byte body: byte %d read after release is %#x, want the poison %#x (the request's byte was %#x)",
					size, i, b, bufpool.PoisonByte, sent[i])
			}
		}
	}
	ts.Client().CloseIdleConnections()
	if err := pool.CheckLeaks(); err != nil {
		t.Error(err)
	}
}

// TestUseAfterReleaseRace runs testdata/lateuse, whose handler hands the
// body to a goroutine that reads it after the handler returned, under the
// race detector, which must report it.
func TestUseAfterReleaseRace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "run", "-race", "./testdata/lateuse").CombinedOutput()
	if strings.Contains(string(out), "-race is not supported") {
		t.Skipf("the race detector is not supported here:\n%s", out)
	}
	if !strings.Contains(string(out), "WARNING: DATA RACE") {
		t.Fatalf("go run -race ./testdata/lateuse (%v) reported no data race:\n%s", err, out)
	}
	// The report must point at the late read.
	if !strings.Contains(string(out), "lateuse/main.go") {
		t.Errorf("the race report does not mention the late read in lateuse/main.go:\n%s", out)
	}
	if testing.Verbose() {
		t.Logf("go run -race ./testdata/lateuse:\n%s", out)
	}
}
