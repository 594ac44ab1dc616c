package bufpool

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"
)

// pattern returns n bytes of a fixed sequence that does not repeat with a
// power-of-two period, so that a misplaced chunk does not compare equal.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// countingReader counts the bytes its reader returned.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endlessReader returns the bytes of pattern forever.
type endlessReader struct{ off int }

func (e *endlessReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte((e.off + i) % 251)
	}
	e.off += len(p)
	return len(p), nil
}

// lyingReader reports more bytes than it was offered.
type lyingReader struct{}

func (lyingReader) Read(p []byte) (int, error) { return len(p) + 1, nil }

var errBoom = errors.New("boom")

// readPoolConfig is small enough that bodies beyond MaxSize stay cheap, and
// poisons released memory so that growth that writes to a buffer it gave
// back panics.
var readPoolConfig = Config{MaxSize: 64 << 10, Poison: true}

// readCase is a body and how ReadFromLimit (or ReadFrom) must take it.
type readCase struct {
	name    string
	prefix  string                // contents before the read
	initial int                   // Get size
	reader  func(n int) io.Reader // serves the first n bytes of pattern
	size    int                   // bytes the reader holds
	limit   int64                 // for ReadFromLimit
	all     bool                  // ReadFrom instead
	wantN   int64                 // bytes appended
	wantErr error                 // nil, or what errors.Is must find
}

func bytesReader(n int) io.Reader { return bytes.NewReader(pattern(n)) }

func endless(int) io.Reader { return &endlessReader{} }

const testLimit = 10_000

func readCases() []readCase {
	wrap := func(f func(io.Reader) io.Reader) func(int) io.Reader {
		return func(n int) io.Reader { return f(bytesReader(n)) }
	}
	midway := func(n int) io.Reader {
		return io.MultiReader(bytesReader(n), iotest.ErrReader(errBoom))
	}
	return []readCase{
		{name: "empty", reader: bytesReader, size: 0, limit: testLimit, wantN: 0},
		{name: "under the limit", reader: bytesReader, size: 5000, limit: testLimit, wantN: 5000},
		{name: "exactly the limit", reader: bytesReader, size: testLimit, limit: testLimit, wantN: testLimit},
		{name: "limit+1", reader: bytesReader, size: testLimit + 1, limit: testLimit, wantN: testLimit + 1, wantErr: ErrTooLarge},
		{name: "far over the limit", reader: bytesReader, size: 1 << 20, limit: testLimit, wantN: testLimit + 1, wantErr: ErrTooLarge},
		{name: "endless reader", reader: endless, limit: testLimit, wantN: testLimit + 1, wantErr: ErrTooLarge},
		{name: "one byte reads", reader: wrap(iotest.OneByteReader), size: testLimit, limit: testLimit, wantN: testLimit},
		{name: "one byte reads over", reader: wrap(iotest.OneByteReader), size: testLimit + 5, limit: testLimit, wantN: testLimit + 1, wantErr: ErrTooLarge},
		{name: "half reads", reader: wrap(iotest.HalfReader), size: 7777, limit: testLimit, wantN: 7777},
		{name: "half reads over", reader: wrap(iotest.HalfReader), size: 3 * testLimit, limit: testLimit, wantN: testLimit + 1, wantErr: ErrTooLarge},
		{name: "data with EOF", reader: wrap(iotest.DataErrReader), size: 3000, limit: testLimit, wantN: 3000},
		{name: "data with EOF exactly the limit", reader: wrap(iotest.DataErrReader), size: testLimit, limit: testLimit, wantN: testLimit},
		// The last read returns the byte beyond the limit together with
		// io.EOF: the body is still too large.
		{name: "data with EOF limit+1", reader: wrap(iotest.DataErrReader), size: testLimit + 1, limit: testLimit, wantN: testLimit + 1, wantErr: ErrTooLarge},
		{name: "data with EOF limit 0", reader: wrap(iotest.DataErrReader), size: 1, limit: 0, wantN: 1, wantErr: ErrTooLarge},
		// The first read fills the 512 bytes of the smallest class.
		{name: "timeout", reader: wrap(iotest.TimeoutReader), size: 3000, limit: testLimit, wantN: 512, wantErr: iotest.ErrTimeout},
		{name: "error reader", reader: func(int) io.Reader { return iotest.ErrReader(errBoom) }, limit: testLimit, wantN: 0, wantErr: errBoom},
		{name: "error midway", reader: midway, size: 3000, limit: testLimit, wantN: 3000, wantErr: errBoom},
		{name: "invalid count", reader: func(int) io.Reader { return lyingReader{} }, limit: testLimit, wantN: 0, wantErr: errInvalidCount},
		{name: "limit 0 empty", reader: bytesReader, size: 0, limit: 0, wantN: 0},
		{name: "limit 0 one byte", reader: bytesReader, size: 1, limit: 0, wantN: 1, wantErr: ErrTooLarge},
		{name: "negative limit is 0", reader: bytesReader, size: 1, limit: -5, wantN: 1, wantErr: ErrTooLarge},
		{name: "appends to contents", prefix: "hello, ", reader: bytesReader, size: testLimit, limit: testLimit, wantN: testLimit},
		{name: "appends to contents over", prefix: "hello, ", reader: bytesReader, size: testLimit + 1, limit: testLimit, wantN: testLimit + 1, wantErr: ErrTooLarge},
		{name: "warm buffer exactly the limit", initial: testLimit, reader: bytesReader, size: testLimit, limit: testLimit, wantN: testLimit},
		{name: "limit of a class size", initial: 4096, reader: bytesReader, size: 4096, limit: 4096, wantN: 4096},
		// The buffer fills up just short of limit+1 while more data waits.
		{name: "full a byte under the limit", initial: 4096, reader: bytesReader, size: 5000, limit: 4096, wantN: 4097, wantErr: ErrTooLarge},
		{name: "full a few bytes under the limit", initial: 4096, reader: bytesReader, size: 5000, limit: 4100, wantN: 4101, wantErr: ErrTooLarge},
		{name: "full with prefix under the limit", prefix: "abc", initial: 4096, reader: bytesReader, size: 5000, limit: 4094, wantN: 4095, wantErr: ErrTooLarge},
		{name: "full and the body ends", initial: 4096, reader: bytesReader, size: 4096, limit: 1 << 20, wantN: 4096},
		{name: "full one byte reads", initial: 4096, reader: wrap(iotest.OneByteReader), size: 5000, limit: 4100, wantN: 4101, wantErr: ErrTooLarge},
		{name: "ReadFrom full and more", initial: 4096, reader: bytesReader, size: 4100, all: true, wantN: 4100},
		{name: "beyond MaxSize", reader: bytesReader, size: 100_000, limit: 1 << 20, wantN: 100_000},
		{name: "beyond MaxSize over", reader: endless, limit: 100_000, wantN: 100_001, wantErr: ErrTooLarge},
		{name: "largest limit", reader: bytesReader, size: 5000, limit: math.MaxInt64, wantN: 5000},
		{name: "ReadFrom empty", reader: bytesReader, size: 0, all: true, wantN: 0},
		{name: "ReadFrom", reader: bytesReader, size: 100_000, all: true, wantN: 100_000},
		{name: "ReadFrom one byte reads", reader: wrap(iotest.OneByteReader), size: 3000, all: true, wantN: 3000},
		{name: "ReadFrom half reads", reader: wrap(iotest.HalfReader), size: 30_000, all: true, wantN: 30_000},
		{name: "ReadFrom data with EOF", reader: wrap(iotest.DataErrReader), size: 30_000, all: true, wantN: 30_000},
		{name: "ReadFrom timeout", reader: wrap(iotest.TimeoutReader), size: 30_000, all: true, wantN: 512, wantErr: iotest.ErrTimeout},
		{name: "ReadFrom error midway", reader: midway, size: 3000, all: true, wantN: 3000, wantErr: errBoom},
		{name: "ReadFrom appends", prefix: "x", reader: bytesReader, size: 2000, all: true, wantN: 2000},
	}
}

// errInvalidCount stands for the error a reader with an impossible count
// gets; it is matched by message.
var errInvalidCount = errors.New("bufpool: reader returned an invalid count")

func TestReadFromLimit(t *testing.T) {
	t.Parallel()
	for _, rc := range readCases() {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, readPoolConfig)
			b := p.Get(rc.initial)
			b.WriteString(rc.prefix)
			initialCap := cap(b.B)
			cr := &countingReader{r: rc.reader(rc.size)}
			var n int64
			var err error
			if rc.all {
				n, err = b.ReadFrom(cr)
			} else {
				n, err = b.ReadFromLimit(cr, rc.limit)
			}
			checkReadErr(t, err, rc.wantErr)
			if n != rc.wantN {
				t.Errorf("read %d bytes, want %d", n, rc.wantN)
			}
			if cr.n != n && rc.wantErr != errInvalidCount {
				t.Errorf("consumed %d bytes from the reader, reported %d", cr.n, n)
			}
			if !rc.all && cr.n-1 > max(rc.limit, 0) {
				t.Errorf("consumed %d bytes from the reader, limit %d allows at most limit+1", cr.n, rc.limit)
			}
			want := append([]byte(rc.prefix), pattern(int(n))...)
			if !bytes.Equal(b.B, want) {
				t.Errorf("contents (%d bytes) differ from the %d bytes read after the prefix", b.Len(), n)
			}
			c := cap(b.B)
			if c <= p.Config().MaxSize && c != p.ClassSize(c) {
				t.Errorf("capacity %d is not a class size: growth bypassed the pool", c)
			}
			if !rc.all {
				// The buffer never grows beyond what limit+1 bytes need.
				most := max(initialCap, p.ClassSize(len(rc.prefix)+int(min(max(rc.limit, 0), 1<<30))+1))
				if c > most {
					t.Errorf("capacity %d for a limit of %d bytes, want at most %d", c, rc.limit, most)
				}
			}
			b.Release()
			st := checkInvariants(t, p)
			if st.Total.InUse != 0 || st.Total.InUseBytes != 0 {
				t.Errorf("%d buffers (%d bytes) in use after Release", st.Total.InUse, st.Total.InUseBytes)
			}
		})
	}
}

func checkReadErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("error %v, want none", err)
	case want == errInvalidCount:
		if err == nil || err.Error() != want.Error() {
			t.Fatalf("error %v, want %v", err, want)
		}
	case want != nil && !errors.Is(err, want):
		t.Fatalf("error %v, want one wrapping %v", err, want)
	}
}

// TestReadFromZeroBuffer checks that a Buffer of no pool reads with
// ordinary allocations and keeps the limit.
func TestReadFromZeroBuffer(t *testing.T) {
	t.Parallel()
	var b Buffer
	n, err := b.ReadFromLimit(bytesReader(2000), 1000)
	if !errors.Is(err, ErrTooLarge) || n != 1001 || !bytes.Equal(b.B, pattern(1001)) {
		t.Errorf("ReadFromLimit: %d bytes, %v", n, err)
	}
	var c Buffer
	if n, err := c.ReadFrom(bytesReader(5000)); err != nil || n != 5000 || !bytes.Equal(c.B, pattern(5000)) {
		t.Errorf("ReadFrom: %d bytes, %v", n, err)
	}
}

// TestReadFromLimitReuse reads many bodies of varied sizes through one
// pool, each into a fresh buffer, and checks every body arrives intact:
// memory handed back while growing must never leak into another body.
func TestReadFromLimitReuse(t *testing.T) {
	t.Parallel()
	p := newPool(t, readPoolConfig)
	bodies := 200
	if raceEnabled {
		bodies = 40 // Poison's passes over every buffer are slow under -race
	}
	data := pattern(40_000)
	for i := range bodies {
		size := (i * 7919) % len(data)
		limit := int64(30_000)
		b := p.Get(i % 3000)
		n, err := b.ReadFromLimit(bytes.NewReader(data[:size]), limit)
		if int64(size) > limit {
			if !errors.Is(err, ErrTooLarge) || n != limit+1 {
				t.Fatalf("body %d (%d bytes): %d bytes, %v; want ErrTooLarge after limit+1", i, size, n, err)
			}
		} else if err != nil || n != int64(size) {
			t.Fatalf("body %d (%d bytes): %d bytes, %v", i, size, n, err)
		}
		if !bytes.Equal(b.B, data[:n]) {
			t.Fatalf("body %d arrived corrupted", i)
		}
		b.Release()
	}
	st := checkInvariants(t, p)
	if st.Total.InUse != 0 {
		t.Errorf("%d buffers in use at rest", st.Total.InUse)
	}
}

// ReadFromLimit's error carries the limit and matches ErrTooLarge, as
// *http.MaxBytesError does for http.MaxBytesReader.
func TestTooLargeError(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	b := p.Get(16)
	defer b.Release()
	_, err = b.ReadFromLimit(strings.NewReader("more than ten bytes"), 10)
	var tl *TooLargeError
	if !errors.Is(err, ErrTooLarge) || !errors.As(err, &tl) || tl.Limit != 10 {
		t.Fatalf("ReadFromLimit past the limit: %v (%T); want a *TooLargeError with Limit 10 matching ErrTooLarge", err, err)
	}
	if got := err.Error(); !strings.Contains(got, "10 bytes") {
		t.Errorf("error %q does not name the limit", got)
	}
}
