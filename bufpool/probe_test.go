package bufpool

import (
	"bytes"
	"errors"
	"testing"
)

// TestReadFullBuffer covers a buffer that fills exactly: reading must find
// the end of the data without doubling the buffer, and must not read past
// limit+1 bytes while looking for it.
func TestReadFullBuffer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		size     int   // bytes the reader holds
		limit    int64 // -1: ReadFrom
		wantCap  int
		wantRead int
		wantErr  error
	}{
		{"exactly a class, unlimited", 4096, -1, 4096, 4096, nil},
		{"exactly a class, limit above", 4096, 10000, 4096, 4096, nil},
		{"exactly the limit", 4096, 4096, 4096, 4096, nil},
		{"one past the limit", 4097, 4096, 5120, 4097, ErrTooLarge},
		{"far past a class-sized limit", 100000, 4096, 5120, 4097, ErrTooLarge},
		{"one past a class", 4097, -1, 8192, 4097, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, Config{})
			b := p.Get(4096)
			src := &countingReader{r: bytes.NewReader(bytes.Repeat([]byte("r"), tt.size))}
			var err error
			if tt.limit < 0 {
				_, err = b.ReadFrom(src)
			} else {
				_, err = b.ReadFromLimit(src, tt.limit)
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if src.n != int64(tt.wantRead) || cap(b.B) != tt.wantCap {
				t.Errorf("read %d bytes into cap %d, want %d into cap %d", src.n, cap(b.B), tt.wantRead, tt.wantCap)
			}
			b.Release()
		})
	}
}

// TestReadFullBudgetedBuffer: a buffer from Acquire that fills exactly
// finds the end of the data without growing, so a body of a class's size
// never holds twice its memory under a budget either.
func TestReadFullBudgetedBuffer(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{MaxInUseBytes: 1 << 20})
	b, err := p.Acquire(cancelled, 4096)
	if err != nil {
		t.Fatal(err)
	}
	src := &countingReader{r: bytes.NewReader(bytes.Repeat([]byte("r"), 4096))}
	if _, err := b.ReadFromLimit(src, 1<<20); err != nil {
		t.Fatal(err)
	}
	if cap(b.B) != 4096 || src.n != 4096 {
		t.Errorf("read %d bytes into cap %d, want 4096 into 4096", src.n, cap(b.B))
	}
	if st := p.Stats(); st.BudgetUsedBytes != 4096 {
		t.Errorf("budget used %d, want 4096: the probe's charge must come back", st.BudgetUsedBytes)
	}
	b.Release()
}
