package abtest

import (
	"os"
	"strings"
	"testing"
)

func TestParseProcStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		text    string
		want    procStatus
		wantErr bool
	}{
		{
			name: "linux",
			text: "Name:\tdemo-server\nVmPeak:\t 1265284 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   12288 kB\nThreads:\t7\n",
			want: procStatus{PeakRSS: 40960 << 10, RSS: 12288 << 10},
		},
		{name: "missing", text: "Name:\tx\nVmRSS:\t 1 kB\n", wantErr: true},
		{name: "bad unit", text: "VmHWM:\t 1 MB\nVmRSS:\t 1 kB\n", wantErr: true},
		{name: "bad number", text: "VmHWM:\t x kB\nVmRSS:\t 1 kB\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStatus(strings.NewReader(tt.text))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %t", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReadProcStatusSelf(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc here")
	}
	st, err := readProcStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.PeakRSS <= 0 || st.RSS <= 0 || st.RSS > st.PeakRSS {
		t.Errorf("implausible figures of this process: %+v", st)
	}
}
