package svgchart

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestTicks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		max  float64
		n    int
		want []float64
	}{
		{1, 4, []float64{0, 0.25, 0.5, 0.75, 1}},
		{1.1, 4, []float64{0, 0.5, 1, 1.5}},
		{7, 4, []float64{0, 2, 4, 6, 8}},
		{100, 4, []float64{0, 25, 50, 75, 100}},
		{0.03, 4, []float64{0, 0.01, 0.02, 0.03}},
		{0, 4, []float64{0, 0.25, 0.5, 0.75, 1}},
		{math.NaN(), 4, []float64{0, 0.25, 0.5, 0.75, 1}},
		{math.Inf(1), 4, []float64{0, 0.25, 0.5, 0.75, 1}},
		{9e6, 3, []float64{0, 5e6, 1e7}},
	}
	for _, tt := range tests {
		t.Run(Compact(tt.max), func(t *testing.T) {
			got := Ticks(tt.max, tt.n)
			if len(got) != len(tt.want) {
				t.Fatalf("Ticks(%v, %d) = %v, want %v", tt.max, tt.n, got, tt.want)
			}
			for i := range got {
				if math.Abs(got[i]-tt.want[i]) > 1e-9*math.Max(1, tt.want[i]) {
					t.Fatalf("Ticks(%v, %d) = %v, want %v", tt.max, tt.n, got, tt.want)
				}
			}
		})
	}
}

func TestCompact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{1, "1.00"},
		{0.0345, "0.0345"},
		{12.345, "12.3"},
		{999, "999"},
		{9999, "9999"},
		{12345, "12.3k"},
		{1.5e6, "1.50M"},
		{2.25e9, "2.25G"},
		{0.00012, "1.2e-4"},
		{0.00154, "0.0015"},
		{0.0099, "0.0099"},
		{0.01, "0.0100"},
		{-0.5, "-0.500"},
		{math.NaN(), "n/a"},
		{math.Inf(1), "n/a"},
	}
	for _, tt := range tests {
		if got := Compact(tt.v); got != tt.want {
			t.Errorf("Compact(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// elements parses doc as XML and counts its elements by name and class.
func elements(t *testing.T, doc []byte) map[string]int {
	t.Helper()
	counts := map[string]int{}
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return counts
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, doc)
		}
		if se, ok := tok.(xml.StartElement); ok {
			counts[se.Name.Local]++
			for _, a := range se.Attr {
				if a.Name.Local == "class" {
					counts[se.Name.Local+"."+a.Value]++
				}
			}
		}
	}
}

func TestChartSVG(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		chart      Chart
		bars       int
		whiskers   int
		refs       int
		mustHave   []string
		mustNotHve []string
	}{
		{
			name: "ratios",
			chart: Chart{
				Title: "Throughput <vs> off", Unit: "ratio", Series: []string{"off", "sized"},
				Panels: []Panel{
					{Title: "small", Bars: []Bar{{1, 1, 1}, {1.3, 1.2, 1.4}}},
					{Title: "large & co", Bars: []Bar{{1, 1, 1}, {2.5, 2, 3}}},
				},
				Lines: []Line{{Value: 1, Label: "off"}, {Value: 1.2, Label: "target ≥ 1.2"}},
			},
			bars: 4, whiskers: 2, refs: 4,
			mustHave: []string{"Throughput &lt;vs&gt; off", "large &amp; co", "target ≥ 1.2"},
		},
		{
			name: "absolute own scales with a missing bar",
			chart: Chart{
				Title: "Allocated bytes per request", Series: []string{"off", "none", "sized"},
				Panels: []Panel{
					{Title: "small", Bars: []Bar{{5000, math.NaN(), math.NaN()}, {math.NaN(), 0, 0}, {0, 0, 0}}},
					{Title: "large", Bars: []Bar{{3e6, 2e6, 4e6}, {1e6, 1e6, 1e6}, {1e3, 0, 2e3}}},
				},
			},
			bars: 5, whiskers: 2,
			mustHave: []string{"n/a", "3.00M"},
		},
		{
			name:  "empty",
			chart: Chart{Title: "nothing"},
		},
		{
			name: "all zero and infinite",
			chart: Chart{
				Title: "zeros", Series: []string{"a", "b"},
				Panels: []Panel{{Title: "p", Bars: []Bar{{0, 0, 0}, {math.Inf(1), 0, math.Inf(1)}}}},
				Lines:  []Line{{Value: math.NaN()}, {Value: 5, Label: "beyond"}},
			},
			bars: 1, refs: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := tt.chart.SVG()
			got := elements(t, doc)
			if got["svg"] != 1 {
				t.Errorf("%d svg elements, want 1", got["svg"])
			}
			if got["rect.bar"] != tt.bars || got["path.whisker"] != tt.whiskers || got["line.ref"] != tt.refs {
				t.Errorf("bars, whiskers, reference lines = %d, %d, %d; want %d, %d, %d",
					got["rect.bar"], got["path.whisker"], got["line.ref"], tt.bars, tt.whiskers, tt.refs)
			}
			s := string(doc)
			for _, want := range tt.mustHave {
				if !strings.Contains(s, want) {
					t.Errorf("SVG lacks %q", want)
				}
			}
			for _, bad := range []string{"NaN", "Inf", "%!"} {
				if strings.Contains(s, bad) {
					t.Errorf("SVG contains %q:\n%s", bad, s)
				}
			}
		})
	}
}

func TestChartSVGDeterministic(t *testing.T) {
	t.Parallel()
	c := Chart{Title: "t", Series: []string{"a"}, Panels: []Panel{{Title: "p", Bars: []Bar{{1, 0.5, 2}}}}}
	if !slices.Equal(c.SVG(), c.SVG()) {
		t.Error("two renderings of one chart differ")
	}
}
