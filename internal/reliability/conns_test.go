package reliability

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bodypool/bodypool/internal/demoproc"
	"github.com/bodypool/bodypool/middleware"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// TestDeclaredButUnsent opens 200 connections that each declare a body
// just under the limit and send a few bytes. The server must hold memory
// for what arrived, not for what was declared: at most its first buffer,
// InitialRequestBuffer (64 KiB), per connection.
func TestDeclaredButUnsent(t *testing.T) {
	const (
		conns    = 200
		declared = 8*mib - 1 // the default -max-body is 8 MiB
		perConn  = middleware.DefaultInitialRequestBuffer
	)
	// rssMargin bounds the growth of the server's resident memory: the
	// buffers themselves are 12.5 MiB, the rest is connection state. The
	// race detector adds shadow memory and state per goroutine, several
	// times the buffers: it gets twice the bound.
	rssMargin := 64.0 * mib
	if raceEnabled {
		rssMargin *= 2
	}
	s := startServer(t)
	rss0 := s.rss(t)

	cs := make([]net.Conn, conns)
	err := forEach(conns, 20, func(i int) error {
		c, err := net.DialTimeout("tcp", s.Addr, 10*time.Second)
		if err != nil {
			return err
		}
		cs[i] = c
		return postRaw(c, "/echo", []string{"Content-Length: " + strconv.Itoa(declared)}, []byte("a few bytes"))
	})
	defer func() {
		for _, c := range cs {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err != nil {
		t.Fatal(err)
	}

	const bound = conns * perConn
	s.waitMetric(t, inUseBytes, 30*time.Second, fmt.Sprintf(">= %d", bound), func(v float64) bool { return v >= bound })
	// Held for a while, it does not creep up.
	var inUse, rss float64
	for range 5 {
		m := s.metrics(t)
		inUse = max(inUse, m[inUseBytes])
		rss = max(rss, s.rss(t), m[residentSize])
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d connections each declaring %d bytes and sending 11: in use %.0f bytes (bound %d = %d x 64 KiB); RSS %.1f MiB, %.1f MiB at start (bound +%.0f MiB)",
		conns, declared, inUse, bound, conns, rss/mib, rss0/mib, rssMargin/mib)
	if inUse > bound {
		t.Errorf("in use %.0f bytes, want at most %d", inUse, bound)
	}
	if rss > rss0+rssMargin {
		t.Errorf("RSS %.1f MiB, want at most %.1f MiB + %.0f MiB", rss/mib, rss0/mib, rssMargin/mib)
	}
	for _, c := range cs {
		c.Close()
	}
	s.settle(t)
}

// TestTimeouts has clients abort uploads and downloads midway and dribble
// headers and bodies a byte a second, and leaves 1,000 connections idle:
// the server's timeouts end them all, and every buffer comes back.
func TestTimeouts(t *testing.T) {
	const (
		readHeaderTimeout = 2 * time.Second
		readTimeout       = 3 * time.Second
		idleTimeout       = 3 * time.Second
		// slack is how late a timeout may strike on a loaded machine.
		slack = 5 * time.Second
	)
	s := startServer(t, "-read-header-timeout", readHeaderTimeout.String(), "-read-timeout", readTimeout.String(),
		"-idle-timeout", idleTimeout.String())
	payload := randomBytes(t, 1*mib)

	t.Run("upload aborted", func(t *testing.T) {
		c := s.dial(t)
		if err := postRaw(c, "/upload", []string{"Content-Length: " + strconv.Itoa(4*mib)}, payload); err != nil {
			t.Fatal(err)
		}
		s.waitMetric(t, inUseBytes, 10*time.Second, ">= 1 MiB", func(v float64) bool { return v >= mib })
		c.Close()
		s.settle(t)
	})

	t.Run("download aborted", func(t *testing.T) {
		c := s.dial(t)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.WriteString(c, "GET /blob?size=32MiB HTTP/1.1\r\nHost: bodypool.test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || resp.ContentLength != -1 {
			t.Fatalf("GET /blob?size=32MiB: status %d, length %d, want 200 streamed", resp.StatusCode, resp.ContentLength)
		}
		if _, err := io.CopyN(io.Discard, resp.Body, mib); err != nil {
			t.Fatal(err)
		}
		c.Close()
		s.settle(t)
	})

	t.Run("slow clients", func(t *testing.T) {
		// Both at once: each waits for a timeout of the server.
		var wg sync.WaitGroup
		wg.Go(func() {
			// The request line, then a byte a second of headers that never end.
			head := "POST /echo HTTP/1.1\r\nHost: bodypool.test\r\nX-Slow: " + strings.Repeat("a", 30)
			ended, got := dribble(t, s, head[:len("POST /echo HTTP/1.1\r\n")], head[len("POST /echo HTTP/1.1\r\n"):], nil)
			t.Logf("slow headers: connection ended after %s (read-header-timeout %s), response %q", ended.Round(time.Millisecond), readHeaderTimeout, firstLine(got))
			if ended < readHeaderTimeout-time.Second || ended > readHeaderTimeout+slack {
				t.Errorf("slow headers: connection ended after %s, want about %s", ended, readHeaderTimeout)
			}
			if len(got) > 0 && !strings.HasPrefix(got, "HTTP/1.1 408") && !strings.HasPrefix(got, "HTTP/1.1 400") {
				t.Errorf("slow headers: the server answered %q", firstLine(got))
			}
		})
		wg.Go(func() {
			head := "POST /echo HTTP/1.1\r\nHost: bodypool.test\r\nContent-Length: 100\r\n\r\n"
			held := func() bool {
				m, err := s.scrape()
				return err == nil && m[inUseBytes] > 0
			}
			ended, got := dribble(t, s, head, strings.Repeat("b", 30), held)
			t.Logf("slow body: connection ended after %s (read-timeout %s), response %q", ended.Round(time.Millisecond), readTimeout, firstLine(got))
			if ended < readTimeout-time.Second || ended > readTimeout+slack {
				t.Errorf("slow body: connection ended after %s, want about %s", ended, readTimeout)
			}
			if len(got) > 0 && !strings.HasPrefix(got, "HTTP/1.1 400") && !strings.HasPrefix(got, "HTTP/1.1 408") {
				t.Errorf("slow body: the server answered %q, want 400 or nothing", firstLine(got))
			}
		})
		wg.Wait()
		s.settle(t)
	})

	t.Run("1000 idle keep-alive connections", func(t *testing.T) {
		idleKeepAlive(t, s, 1000, idleTimeout, slack)
		s.settle(t)
	})
}

// dribble sends head at once and then body a byte a second, until the
// server ends the connection. It returns how long after the head that
// took and what the server sent. held, if set, is checked once the
// dribbling has begun and must report true.
func dribble(t *testing.T, s *server, head, body string, held func() bool) (time.Duration, string) {
	c, err := net.DialTimeout("tcp", s.Addr, 10*time.Second)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer c.Close()
	if _, err := io.WriteString(c, head); err != nil {
		t.Error(err)
		return 0, ""
	}
	start := time.Now()
	var got []byte
	buf := make([]byte, 4096)
	for i := range len(body) {
		if _, err := io.WriteString(c, body[i:i+1]); err != nil {
			break // the server closed the connection and reset it
		}
		if i == 1 && held != nil && !held() {
			t.Errorf("no buffer in use while a body arrives")
		}
		// Reading for a second paces the bytes and sees the end.
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			continue
		}
		if err != nil {
			break
		}
		// A response: read to its end.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		rest, _ := io.ReadAll(c)
		got = append(got, rest...)
		break
	}
	ended := time.Since(start)
	if ended >= time.Duration(len(body))*time.Second {
		t.Errorf("the server never ended a connection that dribbled %d bytes in %s", len(body), ended)
	}
	return ended, string(got)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// idleKeepAlive leaves n connections idle after one request each: the
// server closes each at its idle timeout (reads see EOF), holding no
// buffer while they wait, and its heap stays flat.
func idleKeepAlive(t *testing.T, s *server, n int, idleTimeout, slack time.Duration) {
	// heapMargin bounds heap growth, 32 KiB per connection: an idle
	// connection keeps a 4 KiB bufio.Reader and some connection state, and
	// no pooled memory.
	const heapMargin = 32 * mib
	m0 := s.metrics(t)
	type conn struct {
		c    net.Conn
		br   *bufio.Reader
		idle time.Time // when its response was read
	}
	cs := make([]conn, n)
	defer func() {
		for _, c := range cs {
			if c.c != nil {
				c.c.Close()
			}
		}
	}()
	req := "POST /echo HTTP/1.1\r\nHost: bodypool.test\r\nContent-Length: 5\r\n\r\nhello"
	err := forEach(n, 50, func(i int) error {
		c, err := net.DialTimeout("tcp", s.Addr, 10*time.Second)
		if err != nil {
			return err
		}
		cs[i].c = c
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			return err
		}
		br := bufio.NewReader(c)
		resp, body, err := readResponse(br, http.MethodPost)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || string(body) != "hello" || resp.Close {
			return fmt.Errorf("connection %d: %d %q close=%t, want 200 hello, kept alive", i, resp.StatusCode, body, resp.Close)
		}
		cs[i].br, cs[i].idle = br, time.Now()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	first := cs[0].idle
	for _, c := range cs {
		if c.idle.Before(first) {
			first = c.idle
		}
	}
	opening := time.Since(first)
	m1 := s.metrics(t)
	if m1[inUseBytes] != 0 {
		t.Errorf("%d idle connections hold %v bytes of the pool, want 0", n, m1[inUseBytes])
	}

	// Every connection waits for its end at once, to see when it comes.
	ends := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range cs {
		wg.Go(func() {
			c := cs[i]
			c.c.SetReadDeadline(c.idle.Add(idleTimeout + slack))
			_, err := c.br.ReadByte()
			ends[i] = time.Since(c.idle)
			if err != io.EOF {
				errs[i] = err
			}
		})
	}
	wg.Wait()
	var early, late, failed int
	var soonest, latest time.Duration = time.Hour, 0
	for i, d := range ends {
		soonest, latest = min(soonest, d), max(latest, d)
		switch {
		case errs[i] != nil:
			failed++
			if failed == 1 {
				t.Errorf("connection %d: read %v after %s, want EOF", i, errs[i], d)
			}
		case d < idleTimeout/2:
			// The server's idle time starts a little before the response is
			// read here; half the timeout is surely too early.
			early++
		case d > idleTimeout+slack:
			late++
		}
	}
	if early+late+failed > 0 {
		t.Errorf("%d idle connections: %d closed early, %d late, %d not with EOF", n, early, late, failed)
	}
	s.settle(t)
	m2 := s.metrics(t)
	t.Logf("%d idle connections (opened in %s) closed by the server %s to %s after their request (idle-timeout %s); heap in use %.1f MiB before, %.1f MiB while idle, %.1f MiB after (margin %d MiB)",
		n, opening.Round(time.Millisecond), soonest.Round(time.Millisecond), latest.Round(time.Millisecond), idleTimeout,
		m0[heapInUse]/mib, m1[heapInUse]/mib, m2[heapInUse]/mib, heapMargin/mib)
	for _, m := range []demoproc.Metrics{m1, m2} {
		if m[heapInUse] > m0[heapInUse]+heapMargin {
			t.Errorf("heap in use %.1f MiB, want at most %.1f MiB + %d MiB", m[heapInUse]/mib, m0[heapInUse]/mib, heapMargin/mib)
		}
	}
}

// forEach runs f(0..n-1) on at most par goroutines and returns the first
// error.
func forEach(n, par int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for range par {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
