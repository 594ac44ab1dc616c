package middleware_test

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/middleware"
)

// Fuzzed handler behaviours: a sequence of two-byte ops, the first byte
// choosing the op and the second its argument.
const (
	fopSetHeader   = iota // set one of conformHeaders to a value from the argument
	fopDelHeader          // delete one of conformHeaders
	fopWriteHeader        // WriteHeader(conformCodes[arg])
	fopWrite              // Write arg*64 bytes of the pattern
	fopFlush              // Flush
	fopTrailer            // set a TrailerPrefix trailer
	fopPanic              // panic: the recovery outside answers 500
	fopCount
)

var (
	conformHeaders = []string{"X-A", "X-B", "Content-Type", "Cache-Control"}
	conformCodes   = []int{http.StatusEarlyHints, http.StatusOK, http.StatusNoContent, http.StatusNotModified,
		http.StatusNotFound, http.StatusInternalServerError}
)

// maxConformOps bounds the ops of one input.
const maxConformOps = 24

// conformOp is one decoded op.
type conformOp struct{ op, arg byte }

// decodeConformOps turns input into ops, up to the first panic.
func decodeConformOps(in []byte) []conformOp {
	var ops []conformOp
	for i := 0; i+1 < len(in) && len(ops) < maxConformOps; i += 2 {
		o := conformOp{in[i] % fopCount, in[i+1]}
		ops = append(ops, o)
		if o.op == fopPanic {
			break
		}
	}
	return ops
}

// encodeConformOps is the request target that makes conformOpsHandler run ops.
func encodeConformOps(ops []conformOp) string {
	b := make([]byte, 0, 2*len(ops))
	for _, o := range ops {
		b = append(b, o.op, o.arg)
	}
	return "/?ops=" + hex.EncodeToString(b)
}

// conformOpsHandler runs the ops its request names.
func conformOpsHandler(w http.ResponseWriter, r *http.Request) {
	b, err := hex.DecodeString(r.URL.Query().Get("ops"))
	if err != nil {
		panic(err)
	}
	for i := 0; i+1 < len(b); i += 2 {
		arg := b[i+1]
		switch b[i] {
		case fopSetHeader:
			w.Header().Set(conformHeaders[int(arg)%len(conformHeaders)], fmt.Sprintf("v%d", arg))
		case fopDelHeader:
			w.Header().Del(conformHeaders[int(arg)%len(conformHeaders)])
		case fopWriteHeader:
			w.WriteHeader(conformCodes[int(arg)%len(conformCodes)])
		case fopWrite:
			w.Write(pattern(int(arg) * 64))
		case fopFlush:
			http.NewResponseController(w).Flush()
		case fopTrailer:
			w.Header().Set(http.TrailerPrefix+"X-T", fmt.Sprintf("t%d", arg))
		case fopPanic:
			panic("fuzzed panic")
		}
	}
}

// conformReference returns the ops whose plain run is what the middleware
// must send for ops: ops themselves, unless they panic after net/http
// would have committed the response (a Write or a final WriteHeader) but
// before anything streamed past the middleware, which then discards the
// response, its headers included: the reference is then the interim
// responses already sent, then the panic. A panic before any commit
// leaves the header map as net/http does, so the ops are their own
// reference.
func conformReference(ops []conformOp) []conformOp {
	if len(ops) == 0 || ops[len(ops)-1].op != fopPanic {
		return ops
	}
	written, streamed, bodyOK, committed, trailer := 0, false, true, false, false
	var interim []conformOp // header ops and 103s that went out as interim responses
	var pending []conformOp // header ops since the last 103
	commit := func() {
		// A response whose header has trailers when its status becomes
		// final is not buffered: it streams from there.
		if !committed && trailer {
			streamed = true
		}
		committed = true
	}
	for _, o := range ops {
		switch o.op {
		case fopSetHeader, fopDelHeader:
			pending = append(pending, o)
		case fopTrailer:
			trailer = true
		case fopFlush:
			commit()
			streamed = true
		case fopWrite:
			commit()
			if bodyOK {
				written += int(o.arg) * 64
				streamed = streamed || written > conformMaxBuffered
			}
		case fopWriteHeader:
			if committed {
				break // after the final status, net/http ignores it
			}
			switch code := conformCodes[int(o.arg)%len(conformCodes)]; code {
			case http.StatusEarlyHints:
				interim = append(append(interim, pending...), o)
				pending = nil
			case http.StatusNoContent, http.StatusNotModified:
				commit()
				bodyOK = false
			default:
				commit()
			}
		}
	}
	if streamed || !committed {
		return ops
	}
	return append(interim, conformOp{op: fopPanic})
}

// FuzzConformance checks that fuzzed handler behaviours look the same on
// the wire with and without the middleware, the recovery of panics
// outside both.
func FuzzConformance(f *testing.F) {
	for _, seed := range [][]byte{
		{fopWrite, 1},
		{fopSetHeader, 0, fopWriteHeader, 4, fopWrite, 3},
		{fopWriteHeader, 0, fopSetHeader, 2, fopWriteHeader, 1, fopWrite, 10},
		{fopWrite, 100, fopFlush, 0, fopWrite, 5},
		{fopWriteHeader, 3, fopWrite, 0},
		{fopSetHeader, 1, fopPanic, 0},
		{fopWrite, 255, fopWrite, 255, fopWrite, 255, fopWrite, 255, fopWrite, 255},
		{fopWriteHeader, 2},
	} {
		f.Add(seed)
	}
	p := newPool(f, bufpool.Config{Poison: true})
	mw := conformNetHTTP(f, middleware.Config{Pool: p, MaxBufferedResponse: conformMaxBuffered})
	plainSrv := conformServe(f, conformRecover(http.HandlerFunc(conformOpsHandler)))
	mwSrv := conformServe(f, conformRecover(mw(http.HandlerFunc(conformOpsHandler))))
	f.Fuzz(func(t *testing.T, in []byte) {
		ops := decodeConformOps(in)
		target := encodeConformOps(ops)
		reqs := twice(get(target))
		plain := exchange(t, plainSrv.Listener.Addr().String(), twice(get(encodeConformOps(conformReference(ops)))), false)
		got := exchange(t, mwSrv.Listener.Addr().String(), reqs, false)
		if d := diffSessions(plain, got, true); len(d) > 0 {
			t.Errorf("ops %s: differences on the wire (allowed: %s):\n%s", strings.TrimPrefix(target, "/?ops="), exceptFraming, strings.Join(d, "\n"))
		}
	})
}
