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
