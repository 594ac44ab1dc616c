package svgchart

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
)

// titled is a plot with one line, titled title.
func titled(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Add(&plotter.Line{XYs: plotter.XYs{{X: 0, Y: 1}, {X: 1, Y: 2}}, LineStyle: plotter.DefaultLineStyle})
	return p
}

func TestFigureSVG(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fig   Figure
		order []string // texts the SVG has, in this order
	}{
		{
			name:  "one row",
			fig:   Figure{Title: "Throughput <vs> off", Subtitle: "two\nlines", Plots: []*plot.Plot{titled("small"), titled("large & co")}},
			order: []string{">Throughput &lt;vs&gt; off<", ">two<", ">lines<", ">small<", ">large &amp; co<"},
		},
		{
			name:  "a grid with a gap",
			fig:   Figure{Title: "grid", Cols: 2, PlotW: 300, PlotH: 200, Plots: []*plot.Plot{titled("a"), titled("b"), titled("c")}},
			order: []string{">grid<", ">a<", ">b<", ">c<"},
		},
		{name: "empty", fig: Figure{Title: "nothing"}, order: []string{">nothing<"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := tt.fig.SVG()
			if err := xml.Unmarshal(doc, new(struct{})); err != nil {
				t.Fatalf("not XML: %v\n%s", err, doc)
			}
			if n := bytes.Count(doc, []byte("<svg")); n != 1 {
				t.Errorf("%d svg elements, want 1", n)
			}
			if !bytes.Equal(doc, tt.fig.SVG()) {
				t.Error("two renderings of one figure differ")
			}
			svg, at := string(doc), 0
			for _, s := range tt.order {
				i := strings.Index(svg[at:], s)
				if i < 0 {
					t.Fatalf("SVG lacks %q after offset %d:\n%s", s, at, svg)
				}
				at += i
			}
		})
	}
}
