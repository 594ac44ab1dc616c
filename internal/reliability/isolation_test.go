package reliability

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/internal/demo"
)

// Request counts of the isolation test. Under the race detector both the
// server and the clients run several times slower, and this machine has
// two cores: the full count runs in a separate invocation without -race,
// when BODYPOOL_RELIABILITY_FULL=1.
const (
	isolationFull    = 10000
	isolationRace    = 1000
	isolationWorkers = 64
	isolationMaxSize = 2 * mib
)

func isolationRequests() int {
	if !raceEnabled && os.Getenv("BODYPOOL_RELIABILITY_FULL") == "1" {
		return isolationFull
	}
	return isolationRace
}

// TestIsolation checks that no request ever sees another's bytes: 64
// clients post distinct random payloads of random sizes to /echo, mixed
// with /blob downloads, and every response must be exactly what it should,
// once with a plain pool and once with -poison, where a use after release
// also shows as 0xDB bytes.
func TestIsolation(t *testing.T) {
	for _, mode := range []struct {
		name  string
		flags []string
	}{
		{"pooled", nil},
		{"poisoned", []string{"-poison"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			s := startServer(t, mode.flags...)
			checkIsolation(t, s.Client, s.URL, isolationRequests(), true)
			s.settle(t)
		})
	}
}

// checkIsolation sends requests from isolationWorkers concurrent clients:
// four in five post a random window of a random payload, of a size from 1
// B to isolationMaxSize uniform in its logarithm, to /echo and require it
// back exactly; the rest, when blob is set, fetch /blob?size=N and check
// its pattern.
func checkIsolation(t *testing.T, client *http.Client, url string, requests int, blob bool) {
	t.Helper()
	payload := randomBytes(t, 2*isolationMaxSize)
	var (
		next                 atomic.Int64
		echoes, blobs, bytes atomic.Int64
		mu                   sync.Mutex
		failures             int
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures++
		if failures <= 5 {
			t.Errorf(format, args...)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range isolationWorkers {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
			buf := make([]byte, isolationMaxSize+1)
			for {
				i := int(next.Add(1)) - 1
				if i >= requests || ctx.Err() != nil {
					return
				}
				size := logSize(rnd.Float64(), isolationMaxSize)
				if blob && rnd.IntN(5) == 0 {
					if err := getBlob(ctx, client, url, size, buf); err != nil {
						fail("request %d: GET /blob?size=%d: %v", i, size, err)
					}
					blobs.Add(1)
				} else {
					off := rnd.IntN(len(payload) - size)
					if err := postEcho(ctx, client, url, payload[off:off+size], buf); err != nil {
						fail("request %d: POST /echo with %d bytes: %v", i, size, err)
					}
					echoes.Add(1)
				}
				bytes.Add(int64(size))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d requests (%d echoes, %d blobs, %.1f MiB of bodies) from %d clients in %s: %.0f requests/s, %d wrong",
		echoes.Load()+blobs.Load(), echoes.Load(), blobs.Load(), float64(bytes.Load())/mib, isolationWorkers,
		elapsed.Round(time.Millisecond), float64(echoes.Load()+blobs.Load())/elapsed.Seconds(), failures)
	if n := echoes.Load() + blobs.Load(); n != int64(requests) {
		t.Errorf("%d of %d requests ran (timed out?)", n, requests)
	}
}

// postEcho posts want to /echo and requires exactly want back, reading
// into buf.
func postEcho(ctx context.Context, client *http.Client, url string, want, buf []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/echo", bytes.NewReader(want))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.ReadFull(resp.Body, buf[:len(want)+1])
	if err != io.ErrUnexpectedEOF {
		return fmt.Errorf("status %d: read %d bytes, more than the %d sent (%v)", resp.StatusCode, n, len(want), err)
	}
	got := buf[:n]
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, got)
	}
	if !bytes.Equal(got, want) {
		return describeMismatch(got, want)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != int64(len(want)) {
		return fmt.Errorf("Content-Length %d for %d bytes", resp.ContentLength, len(want))
	}
	return nil
}

// getBlob fetches /blob?size=size and checks its pattern, reading into buf.
func getBlob(ctx context.Context, client *http.Client, url string, size int, buf []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/blob?size="+strconv.Itoa(size), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.ReadFull(resp.Body, buf[:size+1])
	if err != io.ErrUnexpectedEOF {
		return fmt.Errorf("status %d: read %d bytes, more than %d (%v)", resp.StatusCode, n, size, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, buf[:n])
	}
	if n != size {
		return fmt.Errorf("%d bytes, want %d", n, size)
	}
	for i, b := range buf[:n] {
		if b != demo.BlobByte(i) {
			return fmt.Errorf("byte %d is %#x, want %#x (%s)", i, b, demo.BlobByte(i), poisonNote(buf[i:n]))
		}
	}
	return nil
}

// describeMismatch says where got departs from want, and whether what
// is there is poison, the tell of a use after release.
func describeMismatch(got, want []byte) error {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Errorf("got %d bytes, want %d; they differ from byte %d (%s)", len(got), len(want), i, poisonNote(got[min(i, len(got)):]))
}

func poisonNote(b []byte) string {
	n := 0
	for n < len(b) && b[n] == bufpool.PoisonByte {
		n++
	}
	if n == 0 {
		return "not poison"
	}
	return fmt.Sprintf("%d bytes of poison %#x follow: memory used after release", n, bufpool.PoisonByte)
}
