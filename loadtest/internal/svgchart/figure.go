// Package svgchart lays out gonum.org/v1/plot plots as standalone SVG
// documents, so a report needs no script and no network to show them. With
// gonum, it is the one chart renderer of the load harnesses: the A/B
// harness draws a chart of ratios per workload with it, the dashboard check
// every Grafana panel from real data.
//
// A Figure is a title over a grid of plots, each on scales of its own, their
// data areas lined up:
//
//	fig := svgchart.Figure{Title: "S1", Plots: []*plot.Plot{p1, p2}}
//	os.WriteFile("chart-S1.svg", fig.SVG(), 0o644)
package svgchart

import (
	"bytes"
	"cmp"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure is plots laid out in a grid under a title, drawn as one SVG
// document. Their data areas line up across rows and columns.
type Figure struct {
	Title    string
	Subtitle string // lines in a smaller font under the title
	Plots    []*plot.Plot
	// Cols is the number of plots a row; all plots are in one row when it
	// is not positive.
	Cols int
	// PlotW and PlotH are the size of each plot's cell, 180 by 160 points
	// when zero.
	PlotW, PlotH vg.Length
}

// SVG renders the figure as a standalone SVG document, the same bytes on
// every call.
func (f *Figure) SVG() []byte {
	cols, w, h := f.Cols, cmp.Or(f.PlotW, 180), cmp.Or(f.PlotH, 160)
	if cols <= 0 {
		cols = max(len(f.Plots), 1)
	}
	rows := max((len(f.Plots)+cols-1)/cols, 1)
	title := textStyle(13)
	sub := textStyle(9)
	head := title.Rectangle(f.Title).Size().Y + 10
	if f.Subtitle != "" {
		head += sub.Rectangle(f.Subtitle).Size().Y + 4
	}
	svg := vgsvg.New(vg.Length(cols)*w+20, vg.Length(rows)*h+head)
	dc := draw.New(svg)
	top := vg.Point{X: 10, Y: dc.Max.Y - 6}
	dc.FillText(title, top, f.Title)
	dc.FillText(sub, vg.Point{X: top.X, Y: top.Y - title.Rectangle(f.Title).Size().Y - 4}, f.Subtitle)
	grid := make([][]*plot.Plot, rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, cols)
		copy(grid[r], f.Plots[min(r*cols, len(f.Plots)):])
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadTop: head, PadLeft: 10, PadRight: 10, PadX: 14, PadY: 14}
	for r, row := range plot.Align(grid, tiles, dc) {
		for c, cell := range row {
			if p := grid[r][c]; p != nil {
				p.Draw(cell)
			}
		}
	}
	var b bytes.Buffer
	_, _ = svg.WriteTo(&b) // writes to memory: cannot fail
	return b.Bytes()
}

// textStyle is the plots' default font at size points, aligned from the
// top left.
func textStyle(size vg.Length) text.Style {
	return text.Style{Font: font.From(plot.DefaultFont, size), Handler: plot.DefaultTextHandler, YAlign: draw.YTop}
}
