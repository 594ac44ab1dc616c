package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunRefusesBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
		{"argument", []string{"extra"}, `unexpected argument "extra"`},
		{"workload", []string{"-workloads", "small,huge"}, `-workloads: unknown scenario "huge"`},
		{"mode", []string{"-server", "/bin/true", "-modes", "off,fast"}, `unknown pool "fast"`},
		{"variant flag, before any build", []string{"-modes", "off,sized/max-idel=1MiB"}, "flag provided but not defined: -max-idel"},
		{"requests", []string{"-server", "/bin/true", "-requests", "0"}, "requests must be positive"},
		{"scenario", []string{"-scenarios", "S1,S9"}, `unknown scenario "S9"`},
		{"profile of two scenarios", []string{"-scenarios", "S1", "-profile", "p"}, "exactly one scenario"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr strings.Builder
			if code := run(tt.args, &stderr); code != 2 {
				t.Errorf("exit %d, want 2; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr.String())
			}
		})
	}
}

func TestRunFrom(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.json")
	const results = `{"meta": {"modes": ["off", "sized"], "workloads": ["mixed"], "rounds": 1},
		"runs": [
			{"mode": "off", "workload": "mixed", "round": 1, "requests": 100, "throughput_rps": 100, "alloc_bytes_per_request": 1000, "peak_rss_bytes": 1048576},
			{"mode": "sized", "workload": "mixed", "round": 1, "requests": 100, "throughput_rps": 150, "alloc_bytes_per_request": 10, "peak_rss_bytes": 1048576}
		]}`
	if err := os.WriteFile(in, []byte(results), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	out := filepath.Join(dir, "out")
	if code := run([]string{"-from", in, "-out", out}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "sized/off allocated bytes per request ratio ≤ 0.10 | 10 B | off: 1000 B | 0.010 | met") {
		t.Errorf("report.md lacks the verdict on allocation:\n%s", md)
	}
	if code := run([]string{"-from", filepath.Join(dir, "missing.json")}, &stderr); code != 1 {
		t.Errorf("a missing file: exit %d, want 1", code)
	}
}
