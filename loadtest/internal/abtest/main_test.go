package abtest

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

// The test binary doubles as a stand-in for demo-server when
// ABTEST_FAKE_SERVER is set, so the process handling and the load driver
// are tested without building the real server.
func TestMain(m *testing.M) {
	if os.Getenv("ABTEST_FAKE_SERVER") == "1" {
		os.Exit(fakeServer(os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

// fakeServer speaks enough of demo-server: the listening line, POST /echo,
// GET /metrics with the figures the harness reads, GET /healthz, and a
// graceful stop on SIGTERM, and /debug/pprof/. With ABTEST_FAKE_CORRUPT=1 it flips the last
// byte of every echo. With -h2c it also serves HTTP/2 without TLS, and
// then refuses to echo over HTTP/1.1, so a scenario that should use h2c
// fails when it does not.
func fakeServer(args []string) int {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "")
	pool := fs.String("pool", "sized", "")
	h2c := fs.Bool("h2c", false, "")
	fs.Bool("pprof", false, "")   // always served
	fs.String("max-idle", "", "") // accepted, for variants of a mode
	if err := fs.Parse(args); err != nil {
		return 2
	}
	corrupt := os.Getenv("ABTEST_FAKE_CORRUPT") == "1"
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var gets atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		if *h2c && r.ProtoMajor != 2 {
			http.Error(w, "want HTTP/2", http.StatusHTTPVersionNotSupported)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		gets.Add(1)
		if corrupt && len(b) > 0 {
			b[len(b)-1] ^= 1
		}
		w.Write(b)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(w, "# TYPE go_memstats_alloc_bytes_total counter\ngo_memstats_alloc_bytes_total %d\n", ms.TotalAlloc)
		fmt.Fprintf(w, "go_gc_duration_seconds_count %d\nprocess_cpu_seconds_total 0.25\n", ms.NumGC)
		fmt.Fprintf(w, "go_memstats_heap_inuse_bytes %d\n", ms.HeapInuse)
		if *pool != "off" {
			fmt.Fprintf(w, "bufpool_gets_total{class=\"512\",pool=%q} %d\nbufpool_hits_total{class=\"512\",pool=%q} %d\n",
				*pool, gets.Load(), *pool, gets.Load()/2)
		}
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	srv := &http.Server{Handler: mux}
	if *h2c {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	fmt.Printf("demo-server: listening on http://%s (pool=%s)\n", ln.Addr(), *pool)
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return 1
	}
	return 0
}
