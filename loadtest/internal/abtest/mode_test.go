package abtest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestServerArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode string
		want []string // nil: refused
	}{
		{"off", []string{"-pool", "off"}},
		{"sized", []string{"-pool", "sized"}},
		{"sized/max-idle=32MiB", []string{"-pool", "sized", "-max-idle=32MiB"}},
		{"sized/max-idle=32MiB/pool-idle-timeout=2s", []string{"-pool", "sized", "-max-idle=32MiB", "-pool-idle-timeout=2s"}},
		{"calibrated/max-buffered=64KiB", []string{"-pool", "calibrated", "-max-buffered=64KiB"}},
		{"fast", nil},
		{"", nil},
		{"sized/", nil},
		{"sized/max-idle", nil},
		{"sized/=32MiB", nil},
		{"sized/-max-idle=32MiB", nil},
		{"sized/max-idle=32MiB/", nil},
		{"sized/pool=off", nil},
		{"sized/addr=127.0.0.1:1", nil},
		{"sized/bogus=1", nil},
		{"sized/max-idle=lots", nil},
	}
	for _, tt := range tests {
		got, err := ServerArgs(tt.mode)
		switch {
		case tt.want == nil && err == nil:
			t.Errorf("ServerArgs(%q) = %q, want an error", tt.mode, got)
		case tt.want != nil && err != nil:
			t.Errorf("ServerArgs(%q): %v", tt.mode, err)
		case tt.want != nil && !slices.Equal(got, tt.want):
			t.Errorf("ServerArgs(%q) = %q, want %q", tt.mode, got, tt.want)
		case err != nil && !strings.Contains(err.Error(), tt.mode):
			t.Errorf("ServerArgs(%q): error %q does not name the mode", tt.mode, err)
		}
	}
}

// TestRunVariants runs a pool and its variant side by side: the variant's
// flag reaches the server (the fake refuses flags it does not know), and
// the report and the charts name and draw both.
func TestRunVariants(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(t)
	cfg.Modes = []string{"off", "sized/max-idle=32MiB"}
	res := runFake(t, cfg)
	for _, r := range res.Runs {
		if r.Errors+r.WarmupErrors != 0 {
			t.Errorf("%s/%s: %d errors: %s", r.Workload, r.Mode, r.Errors+r.WarmupErrors, r.FirstError)
		}
	}
	if got := runsOf(res.Runs, "mixed", "sized/max-idle=32MiB"); len(got) != 2 {
		t.Errorf("%d runs of the variant on mixed, want 2", len(got))
	}
	dir := t.TempDir()
	if err := WriteReport(dir, res); err != nil {
		t.Fatal(err)
	}
	report, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(report), "| sized/max-idle=32MiB |") {
		t.Errorf("report has no row for the variant:\n%s", report)
	}

	cfg.Modes = []string{"off", "sized/pool-idle-timeout=2s"}
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Error("a flag the server refuses did not fail the run")
	}
}
