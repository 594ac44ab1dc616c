package svgchart

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotutil"
)

// render draws fig, checks that it is one well-formed SVG document without
// a formatting error, and returns it.
func render(t *testing.T, fig *Figure) string {
	t.Helper()
	doc := fig.SVG()
	svgs := 0
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, doc)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "svg" {
			svgs++
		}
	}
	if svgs != 1 {
		t.Errorf("%d svg elements, want 1", svgs)
	}
	for _, bad := range []string{"NaN", "Inf", "%!"} {
		if strings.Contains(string(doc), bad) {
			t.Errorf("SVG contains %q:\n%s", bad, doc)
		}
	}
	if !bytes.Equal(doc, fig.SVG()) {
		t.Error("two renderings of one figure differ")
	}
	return string(doc)
}

// hex is how the SVG writes c.
func hex(c color.Color) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02X%02X%02X", r>>8, g>>8, b>>8)
}

func TestFigureSVG(t *testing.T) {
	t.Parallel()
	red, blue := color.RGBA{0xc4, 0x4e, 0x52, 0xff}, color.RGBA{0x2f, 0x78, 0xc4, 0xff}
	from, nan := time.Unix(1700000000, 0), math.NaN()
	format := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	tests := []struct {
		name  string
		fig   Figure
		count map[string]int // substrings and how often the SVG has them
		order []string       // substrings the SVG has in this order
		lacks []string
	}{
		{
			name: "ratios",
			fig: Figure{Title: "Throughput <vs> off", Subtitle: "two\nlines", Plots: []*plot.Plot{
				Bars("small", 1, Bar{"off", red, 1, 1, 1}, Bar{"sized", blue, 1.3, 1.2, 1.4}),
				Bars("large & co", 1, Bar{"off", red, 1, 1, 1}, Bar{"sized", blue, 2.5, 2, 3}),
			}},
			count: map[string]int{
				"fill:" + hex(red): 2, "fill:" + hex(blue): 2, // bars
				"stroke-dasharray": 2, // the line at 1 in each plot
				">1.3<":            1, ">2.5<": 1, ">sized<": 2,
			},
			order: []string{"Throughput &lt;vs&gt; off", ">two<", ">lines<", ">small<", "large &amp; co"},
		},
		{
			name: "missing and infinite bars, no reference",
			fig: Figure{Title: "t", Plots: []*plot.Plot{
				Bars("p", 0, Bar{"a", red, nan, nan, nan}, Bar{"b", blue, math.Inf(1), 0, 1}, Bar{"c", red, 0.5, 0.5, 0.5}),
			}},
			count: map[string]int{"fill:" + hex(red): 1, "fill:" + hex(blue): 0, ">n/a<": 2, "stroke-dasharray": 0, ">0.5<": 1},
		},
		{
			name: "time series",
			fig: Figure{Title: "a <title>", Cols: 2, Plots: []*plot.Plot{
				Lines("hits & misses", from, from.Add(4*time.Second), format,
					Series{Name: "quiet", T: []float64{1700000000, 1700000002}, V: []float64{1, 1}},
					Series{Name: "busy", T: []float64{1700000000, 1700000001, 1700000002, 1700000003}, V: []float64{5, nan, 7, 9}},
					Series{Name: "empty", T: []float64{1700000000}, V: []float64{nan}}),
				Lines("nothing", from, from.Add(time.Second), format),
				Lines("third, on a second row", from, from.Add(time.Second), format,
					Series{Name: "r", T: []float64{1700000000, 1700000001}, V: []float64{0.25, 0.5}}),
			}},
			count: map[string]int{
				// busy, the busiest, has the first color: two runs, broken
				// at the NaN, and the legend's sample.
				"stroke:" + hex(plotutil.Color(0)) + ";stroke-width:1.2": 4, // and r's line and sample
				"stroke:" + hex(plotutil.Color(1)) + ";stroke-width:1.2": 2,
				">no data<": 1, "(last": 3,
			},
			order: []string{"a &lt;title&gt;", "hits &amp; misses", "busy (last 9.00)", "quiet (last 1.00)", "nothing", "r (last 0.50)"},
			lacks: []string{"empty (last"},
		},
		{
			name:  "a legend of the busiest",
			fig:   Figure{Title: "many", Plots: []*plot.Plot{Lines("ten", from, from.Add(time.Second), format, tenSeries()...)}},
			count: map[string]int{"(last": maxLegend, ">+2 more series<": 1},
			order: []string{"s9 (last 9.00)", "s2 (last 2.00)"},
			lacks: []string{"s1 (last", "s0 (last"},
		},
		{name: "empty", fig: Figure{Title: "nothing"}, count: map[string]int{">nothing<": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svg := render(t, &tt.fig)
			for s, n := range tt.count {
				if got := strings.Count(svg, s); got != n {
					t.Errorf("%d of %q, want %d", got, s, n)
				}
			}
			at := 0
			for _, s := range tt.order {
				i := strings.Index(svg[at:], s)
				if i < 0 {
					t.Fatalf("SVG lacks %q after offset %d:\n%s", s, at, svg)
				}
				at += i
			}
			for _, s := range tt.lacks {
				if strings.Contains(svg, s) {
					t.Errorf("SVG has %q", s)
				}
			}
		})
	}
}

// tenSeries are series s0 to s9, each at its index.
func tenSeries() []Series {
	var ss []Series
	for i := range 10 {
		ss = append(ss, Series{Name: fmt.Sprint("s", i), T: []float64{1700000000}, V: []float64{float64(i)}})
	}
	return ss
}
