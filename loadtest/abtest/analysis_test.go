package abtest

import (
	"math"
	"strings"
	"testing"
)

// fixture builds Results from figures: for each workload, mode and round,
// a Measurement whose every metric is derived from one number v, so tests
// can state ratios directly.
type fixture struct {
	workloads []string
	modes     []string
	rounds    int
	// value returns the figure of a workload, mode and round.
	value func(workload, mode string, round int) float64
}

func (f fixture) results() *Results {
	res := &Results{Meta: Meta{Modes: f.modes, Workloads: f.workloads, Rounds: f.rounds, Described: map[string]string{}}}
	for r := 1; r <= f.rounds; r++ {
		for _, w := range f.workloads {
			for _, m := range f.modes {
				v := f.value(w, m, r)
				res.Runs = append(res.Runs, Measurement{
					Mode: m, Workload: w, Round: r, Requests: 1000,
					Throughput:      v,
					Latency:         Latency{P50: v, P99: v, P999: v},
					AllocPerRequest: v,
					GCPer1000:       v,
					PeakRSSBytes:    int64(v * MiB),
					CPUPerRequestUs: v,
					PoolGets:        100,
					PoolHits:        90,
				})
			}
		}
	}
	return res
}

func TestRatioAndSpread(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	ratios := []struct {
		x, base, want float64
	}{
		{1, 2, 0.5},
		{0, 2, 0},
		{3, 0, nan},
		{0, 0, nan},
		{nan, 1, nan},
		{1, nan, nan},
	}
	for _, tt := range ratios {
		got := Ratio(tt.x, tt.base)
		if got != tt.want && !(math.IsNaN(got) && math.IsNaN(tt.want)) {
			t.Errorf("Ratio(%v, %v) = %v, want %v", tt.x, tt.base, got, tt.want)
		}
	}
	s := SpreadOf([]float64{3, nan, 1, 2})
	if s.Min != 1 || s.Median != 2 || s.Max != 3 || s.N != 3 {
		t.Errorf("SpreadOf = %+v", s)
	}
	if s := SpreadOf([]float64{nan}); s.N != 0 || !math.IsNaN(float64(s.Median)) {
		t.Errorf("SpreadOf(NaN) = %+v", s)
	}
}

func TestTargetHolds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		op    string
		limit float64
		ratio float64
		want  bool
	}{
		{"<=", 0.1, 0.1, true},
		{"<=", 0.1, 0.11, false},
		{">=", 1.2, 1.2, true},
		{">=", 1.2, 1.19, false},
		{"<", 1, 1, false},
		{"<", 1, 0.99, true},
		{"?", 1, 0, false},
		{"<=", 0.1, math.NaN(), false},
	}
	for _, tt := range tests {
		if got := (Target{Op: tt.op, Limit: tt.limit}).Holds(tt.ratio); got != tt.want {
			t.Errorf("%s %v holds for %v = %t, want %t", tt.op, tt.limit, tt.ratio, got, tt.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	alloc := Target{"mixed", "alloc", "sized", "off", "<=", 0.10}
	tput := Target{"mixed", "throughput", "sized", "off", ">=", 1.2}
	tests := []struct {
		name   string
		target Target
		// sized and off figures by round (1-based index-1)
		sized, off []float64
		errors     int
		status     string
		median     float64
		note       string
	}{
		{"met every round", alloc, []float64{5, 6, 4}, []float64{100, 100, 100}, 0, StatusMet, 0.05, ""},
		{"missed", alloc, []float64{50, 60, 40}, []float64{100, 100, 100}, 0, StatusMissed, 0.5, ""},
		{"met by median only", alloc, []float64{5, 20, 8}, []float64{100, 100, 100}, 0, StatusMet, 0.08, "missed in 1 of 3 rounds"},
		{"missed by median only", alloc, []float64{5, 20, 18}, []float64{100, 100, 100}, 0, StatusMissed, 0.18, "met in 1 of 3 rounds"},
		{"pairs by round", tput, []float64{130, 260, 390}, []float64{100, 200, 300}, 0, StatusMet, 1.3, ""},
		{"higher needed", tput, []float64{110, 110, 110}, []float64{100, 100, 100}, 0, StatusMissed, 1.1, ""},
		{"errors miss", alloc, []float64{1, 1, 1}, []float64{100, 100, 100}, 2, StatusMissed, 0.01, "failed requests"},
		{"zero of zero", Target{"mixed", "gc", "sized", "off", "<=", 0.1}, []float64{0, 0, 0}, []float64{0, 0, 0}, 0, StatusMet, math.NaN(), "0 in both modes"},
		{"some of zero", Target{"mixed", "gc", "sized", "off", "<=", 0.1}, []float64{1, 0, 0}, []float64{0, 0, 0}, 0, StatusMissed, math.NaN(), "baseline figure was 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := fixture{
				workloads: []string{"mixed"}, modes: []string{"off", "sized"}, rounds: 3,
				value: func(_, mode string, r int) float64 {
					if mode == "sized" {
						return tt.sized[r-1]
					}
					return tt.off[r-1]
				},
			}.results()
			res.Runs[len(res.Runs)-1].Errors = tt.errors
			v := Evaluate(res, tt.target)
			if v.Status != tt.status {
				t.Errorf("status %q, want %q (%+v)", v.Status, tt.status, v)
			}
			got := float64(v.Ratio.Median)
			if math.Abs(got-tt.median) > 1e-9 && !(math.IsNaN(got) && math.IsNaN(tt.median)) {
				t.Errorf("median ratio %v, want %v", got, tt.median)
			}
			if !strings.Contains(v.Note, tt.note) || (tt.note == "" && v.Note != "") {
				t.Errorf("note %q, want %q", v.Note, tt.note)
			}
		})
	}
	t.Run("not run", func(t *testing.T) {
		res := fixture{workloads: []string{"small"}, modes: []string{"off", "sized"}, rounds: 1,
			value: func(string, string, int) float64 { return 1 }}.results()
		if v := Evaluate(res, alloc); v.Status != StatusNotRun {
			t.Errorf("status %q for a workload not run", v.Status)
		}
	})
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	res := fixture{
		workloads: []string{"medium", "large", "mixed"},
		modes:     Modes,
		rounds:    3,
		value: func(w, mode string, r int) float64 {
			// sized is at 5% of off on everything: meets the lower-is-better
			// targets and misses throughput.
			base := map[string]float64{"off": 100, "none": 120, "syncpool": 60, "calibrated": 50, "sized": 5}[mode]
			return base * float64(r)
		},
	}.results()
	s := Summarize(res)
	if len(s.Workloads) != 3 || len(s.Workloads[0].Modes) != len(Modes) {
		t.Fatalf("summary shape: %d workloads, %d modes", len(s.Workloads), len(s.Workloads[0].Modes))
	}
	if s.Judged != len(Targets) {
		t.Errorf("judged %d targets, want %d", s.Judged, len(Targets))
	}
	if want := len(Targets) - 3; s.Met != want { // the three throughput targets fail
		t.Errorf("met %d, want %d", s.Met, want)
	}
	sized := s.Workloads[2].Modes[4]
	if sized.Mode != "sized" {
		t.Fatalf("mode order: %v", sized.Mode)
	}
	if r := sized.Ratios["alloc"]; r.Median != 0.05 || r.N != 3 {
		t.Errorf("sized alloc ratio %+v, want median 0.05 over 3", r)
	}
	if f := sized.Figures["alloc"]; f.Min != 5 || f.Median != 10 || f.Max != 15 {
		t.Errorf("sized alloc figures %+v", f)
	}
	if _, ok := s.Workloads[0].Modes[0].Ratios["alloc"]; ok {
		t.Error("the baseline has ratios to itself")
	}
	if h := float64(sized.HitRatio); h != 0.9 {
		t.Errorf("hit ratio %v, want 0.9", h)
	}
}

func TestTargetString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		target Target
		want   string
	}{
		{Target{"mixed", "alloc", "sized", "off", "<=", 0.1}, "sized/off allocated bytes per request ratio ≤ 0.10"},
		{Target{"large", "gc", "sized", "off", "<=", 0.1}, "sized/off GC cycles per 1,000 requests ratio ≤ 0.10"},
		{Target{"large", "throughput", "sized", "off", ">=", 1.2}, "sized/off throughput ratio ≥ 1.20"},
		{Target{"mixed", "peak_rss", "sized", "syncpool", "<", 1}, "sized peak RSS lower than syncpool (ratio < 1)"},
	}
	for _, tt := range tests {
		if got := tt.target.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
