// Command plainh2c is a plain net/http server speaking HTTP/1.1 and HTTP/2
// without TLS (h2c) that answers every request with 200 OK: the baseline
// that h2spec.sh compares the demo server with. It prints the address it
// listens on and serves until it is killed.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("plainh2c: ")
	addr := flag.String("addr", "127.0.0.1:0", "listen address; port 0 picks a free port")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "OK\n")
	})}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	fmt.Printf("plainh2c: listening on http://%s\n", ln.Addr())
	log.Fatal(srv.Serve(ln))
}
