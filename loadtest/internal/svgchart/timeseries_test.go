package svgchart

import (
	"encoding/xml"
	"math"
	"strings"
	"testing"
	"time"
)

func TestGrid(t *testing.T) {
	t.Parallel()
	from := time.Unix(1700000000, 0)
	nan := math.NaN()
	charts := []TimeSeries{
		{Title: "hits & misses", From: from, To: from.Add(4 * time.Second), Series: []Series{
			{Name: "quiet", T: []float64{1700000000, 1700000002}, V: []float64{1, 1}},
			{Name: "busy", T: []float64{1700000000, 1700000001, 1700000002, 1700000003}, V: []float64{5, nan, 7, 9}},
			{Name: "empty", T: []float64{1700000000}, V: []float64{nan}},
		}},
		{Title: "ratio", From: from, To: from.Add(time.Second), Percent: true, Series: []Series{
			{Name: "r", T: []float64{1700000000, 1700000001}, V: []float64{0.25, 0.5}},
		}},
		{Title: "nothing", From: from, To: from.Add(time.Second)},
	}
	svg := string(Grid("a <title>", charts, 2, 400, 200))
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	for _, want := range []string{
		"a &lt;title&gt;", "hits &amp; misses",
		`d="M72.0,`, // busy starts a line, breaks at the NaN and starts again
		"no data",   // the chart without series
		"busy  (last 9.00)", "quiet  (last 1.00)", "r  (last 0.500)",
		`clip-path="url(#clip0)"`, `clip-path="url(#clip1)"`,
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if strings.Contains(svg, "empty  (last") {
		t.Error("a series without numbers is in the legend")
	}
	if strings.Index(svg, "busy  (last") > strings.Index(svg, "quiet  (last") {
		t.Error("the legend does not list the busiest series first")
	}
	if n := strings.Count(svg, " M"); n < 1 {
		t.Errorf("busy's line is not broken at the NaN: %d moves", n)
	}
}
