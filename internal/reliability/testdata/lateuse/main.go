// Command lateuse breaks the rule of bodypool's middleware on purpose: its
// handler hands middleware.Body(r) to a goroutine that reads it after the
// handler returned, without synchronization. Run with -race, the race
// detector must report the read racing with the middleware's release of
// the buffer, which in Poison mode writes over it, or with the next
// request's body arriving in it. The reliability tests run it and expect
// "WARNING: DATA RACE".
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/middleware"
)

// requests is how many times the bug happens. The race detector does not
// see every race: it keeps a short history of accesses per memory word and
// reports only races whose earlier access it can still place. A few
// repetitions make a report certain.
const requests = 20

func main() {
	log.SetFlags(0)
	log.SetPrefix("lateuse: ")
	pool, err := bufpool.New(bufpool.Config{Poison: true})
	if err != nil {
		log.Fatal(err)
	}
	mw, err := middleware.New(middleware.Config{Pool: pool})
	if err != nil {
		log.Fatal(err)
	}
	var (
		late     sync.WaitGroup
		poisoned atomic.Int64
	)
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := middleware.Body(r)
		late.Go(func() {
			// The bug: the goroutine reads body after the handler returned,
			// when the middleware has released it. It spins, bounded, until
			// the release shows, so that the read surely comes after it.
			for i := 0; i < 1e8 && body[0] != bufpool.PoisonByte; i++ {
			}
			for _, b := range body {
				if b == bufpool.PoisonByte {
					poisoned.Add(1)
				}
			}
		})
		io.WriteString(w, "ok\n")
	})))
	for range requests {
		resp, err := http.Post(srv.URL, "text/plain", strings.NewReader(strings.Repeat("x", 1000)))
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	late.Wait()
	srv.Close()
	fmt.Printf("the late reads saw %d bytes of poison in %d bodies of 1000 bytes\n", poisoned.Load(), requests)
}
