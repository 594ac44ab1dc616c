package middleware

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bodypool/bodypool/bufpool"
)

// chunkedReader returns data in the chunk sizes a fuzzer chose, as a
// network delivers it.
type chunkedReader struct {
	data   []byte
	chunks []byte
	i      int
}

func (r *chunkedReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(r.data)
	if len(r.chunks) > 0 {
		n = int(r.chunks[r.i%len(r.chunks)]) + 1
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// declaredBody mimics net/http's server body: with a declared length it
// delivers at most that many bytes and reports io.ErrUnexpectedEOF when
// fewer arrive.
type declaredBody struct {
	r    io.Reader
	left int64 // -1: no declared length
}

func (b *declaredBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	if b.left > 0 && int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
		if err == io.EOF && b.left > 0 {
			err = io.ErrUnexpectedEOF
		}
	}
	return n, err
}

func (b *declaredBody) Close() error { return nil }

// FuzzRequestBody reads fuzzed bodies, in fuzzed chunks, with a declared
// length that is right, short, long, absent or huge, under a fuzzed limit:
// the middleware must deliver exactly the bytes sent or refuse with the
// right status, and release every buffer either way.
func FuzzRequestBody(f *testing.F) {
	f.Add([]byte("hello"), []byte{0}, uint8(0), uint16(100))
	f.Add(bytes.Repeat([]byte("x"), 5000), []byte{200, 3, 77}, uint8(1), uint16(4096))
	f.Add(bytes.Repeat([]byte("y"), 300), []byte{}, uint8(2), uint16(300))
	f.Add(bytes.Repeat([]byte("z"), 301), []byte{1}, uint8(3), uint16(300))
	f.Add([]byte{}, []byte{}, uint8(4), uint16(0))
	p, err := bufpool.New(bufpool.Config{Track: true, Poison: true, MinSize: 64, MaxSize: 64 << 10})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data, chunks []byte, declare uint8, limit uint16) {
		max := int64(limit) + 1
		c, err := Config{Pool: p, MaxRequestBody: max, InitialRequestBuffer: 128}.validate()
		if err != nil {
			t.Fatal(err)
		}
		sent := int64(len(data))
		var declared int64
		switch declare % 5 {
		case 0:
			declared = sent // right
		case 1:
			declared = -1 // absent: chunked
		case 2:
			declared = sent / 2 // short: the rest is the next request's
		case 3:
			declared = sent + 1 + int64(declare) // long: truncated body
		case 4:
			declared = 1<<63 - 1 // huge
		}
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.ContentLength = declared
		r.Body = &declaredBody{r: &chunkedReader{data: data, chunks: chunks}, left: declared}
		if !hasBody(r) {
			return // Content-Length 0: nothing to read, nothing taken
		}
		rb, rej := c.readBody(r)
		want := data
		if declared >= 0 && declared < sent {
			want = data[:declared]
		}
		switch {
		case declared > max:
			if rej == nil || rej.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("declared %d over limit %d: got %v, want 413", declared, max, rej)
			}
		case int64(len(want)) > max:
			if rej == nil || rej.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("sent %d over limit %d: got %v, want 413", len(want), max, rej)
			}
		case declared > sent:
			if rej == nil || rej.Status != http.StatusBadRequest {
				t.Fatalf("declared %d, sent %d: got %v, want 400", declared, sent, rej)
			}
		default:
			if rej != nil {
				t.Fatalf("declared %d, sent %d, limit %d: refused %v", declared, sent, max, rej)
			}
			if !bytes.Equal(rb.b, want) {
				t.Fatalf("body %d bytes, want %d", len(rb.b), len(want))
			}
			// Memory followed the bytes: growthFactor times them with a
			// declared length, twice without, and at least the first buffer.
			most := 2 * len(want)
			if declared >= 0 {
				most = growthFactor * len(want)
			}
			if most = p.ClassSize(most); most < 128 {
				most = 128
			}
			if cap(rb.b) > most {
				t.Fatalf("declared %d, sent %d: held %d bytes, want at most %d", declared, sent, cap(rb.b), most)
			}
			rb.release()
		}
		if err := p.CheckLeaks(); err != nil {
			t.Fatal(err)
		}
	})
}
