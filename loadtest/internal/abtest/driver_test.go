package abtest

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadChecksum(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name    string
		r       io.Reader
		buf     int
		limit   int
		want    string // what the checksum must be of
		wantErr error
	}{
		{"fits", strings.NewReader("hello"), 64, 5, "hello", nil},
		{"chunks smaller than the body", strings.NewReader("hello, world"), 5, 12, "hello, world", nil},
		{"empty", strings.NewReader(""), 4, 0, "", nil},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader("hello")), 6, 5, "hello", nil},
		{"data with EOF", iotest.DataErrReader(strings.NewReader("hello")), 6, 5, "hello", nil},
		{"overlong", strings.NewReader("hello!"), 64, 5, "hello!", errOverlong},
		{"overlong in later chunks", strings.NewReader("hello, world"), 4, 5, "hello,", errOverlong},
		{"read error", iotest.ErrReader(boom), 6, 5, "", boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, sum, err := readChecksum(tt.r, make([]byte, tt.buf), tt.limit)
			if n != len(tt.want) || sum != checksum([]byte(tt.want)) || !errors.Is(err, tt.wantErr) {
				t.Errorf("readChecksum = %d, %08x, %v; want %d, %08x (of %q), %v",
					n, sum, err, len(tt.want), checksum([]byte(tt.want)), tt.want, tt.wantErr)
			}
		})
	}
}
