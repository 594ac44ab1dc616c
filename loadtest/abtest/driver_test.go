package abtest

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadFull(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name    string
		r       io.Reader
		buf     int
		want    int
		wantErr error
	}{
		{"fits", strings.NewReader("hello"), 6, 5, nil},
		{"empty", strings.NewReader(""), 1, 0, nil},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader("hello")), 6, 5, nil},
		{"data with EOF", iotest.DataErrReader(strings.NewReader("hello")), 6, 5, nil},
		{"overlong", strings.NewReader("hello!"), 5, 5, errOverlong},
		{"exactly one over", strings.NewReader("hello"), 4, 4, errOverlong},
		{"read error", iotest.ErrReader(boom), 6, 0, boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readFull(tt.r, make([]byte, tt.buf))
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("readFull = %d, %v; want %d, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
