package abtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// sharedMachineNote is stated in every report.
const sharedMachineNote = "The load generator and the server share one 2-core machine, so absolute numbers " +
	"(requests per second, milliseconds) are not targets and only compare within this run; the targets judge " +
	"ratios between modes measured in the same round."

// modeMeanings says what each pool mode of the demo server is.
var modeMeanings = []struct{ mode, meaning string }{
	{"off", "no bodypool middleware: Echo's BodyLimit and io.ReadAll in the handler (what most servers do)"},
	{"none", "the bodypool middleware with fresh memory for every body (the cost of the middleware alone)"},
	{"syncpool", "the middleware over one sync.Pool of bytes.Buffer for all sizes (the naive pool)"},
	{"calibrated", "the middleware over valyala/bytebufferpool (one pool that calibrates its sizes)"},
	{"sized", "the middleware over bufpool: size classes, bounded idle memory"},
}

// WriteReport writes results.json, report.md, report.html and one SVG file
// per chart into dir, creating it if needed.
func WriteReport(dir string, res *Results) error {
	if res.Summary == nil {
		res.Summary = summarize(res)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	charts := Charts(res, res.Summary)
	html, err := htmlReport(res, charts)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"results.json": append(js, '\n'),
		"report.md":    []byte(markdown(res, charts)),
		"report.html":  html,
	}
	for _, c := range charts {
		files[c.File] = c.Chart.SVG()
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// headline is the report's one-line verdict.
func headline(res *Results) string {
	s := res.Summary
	var b strings.Builder
	switch {
	case s.Judged == 0:
		b.WriteString("No target could be judged: the run lacks the sized mode, the off baseline or the medium, large and mixed workloads.")
	case s.Met == s.Judged:
		fmt.Fprintf(&b, "All %d targets judged were met.", s.Judged)
	default:
		var missed []string
		for _, v := range s.Verdicts {
			if v.Status == statusMissed {
				missed = append(missed, v.Target.Workload+": "+v.Target.String())
			}
		}
		fmt.Fprintf(&b, "%d of %d targets judged were met; missed: %s.", s.Met, s.Judged, strings.Join(missed, "; "))
	}
	if n := len(targets) - s.Judged; n > 0 {
		fmt.Fprintf(&b, " %d targets were not judged because their workload or mode was not run.", n)
	}
	if res.Meta.Interrupted {
		b.WriteString(" The run was interrupted: figures are partial.")
	}
	if res.Meta.Error != "" {
		b.WriteString(" The run stopped on an error: " + res.Meta.Error)
	}
	return b.String()
}

// targetsText states the targets in the report.
const targetsText = "For `sized` against `off` on the medium, large and mixed workloads: allocated bytes per request ratio ≤ 0.10, " +
	"GC cycles per 1,000 requests ratio ≤ 0.10, throughput ratio ≥ 1.2, p99 latency ratio ≤ 1.0, peak RSS ratio ≤ 1.0; " +
	"and on the mixed workload `sized` lower than `calibrated` and `syncpool` in allocated bytes per request and peak RSS. " +
	"Scenarios (issue 14): S1 at 64 and 256 connections, `sized` throughput ≥ 1.0 × the best peer, peak RSS ≤ 0.9 × `off` and below both peers, " +
	"allocated bytes per request ≤ 0.02 × `off`; S2, peak RSS below both peers and ≤ 1.0 × `off`, heap in use 5 s after the spike ≤ `off`'s + " +
	"the default MaxIdleBytes (64 MiB), RSS 30 s after the spike ≤ 1.5 × `off`'s; S3, `sized` ≥ `off` in throughput and ≤ in peak RSS."

// setup lists how the run was done, one sentence each.
func setup(res *Results) []string {
	m := res.Meta
	lines := []string{
		fmt.Sprintf("Run %s to %s (%s)%s.", m.Started.Format(time.RFC3339), m.Finished.Format(time.RFC3339),
			m.Finished.Sub(m.Started).Round(time.Second), commandNote(m.Command)),
		fmt.Sprintf("Machine: %d CPUs, %s/%s, %s. Load average (1, 5, 15 min) before: %s; after: %s.",
			m.CPUs, m.OS, m.Arch, m.GoVersion, m.LoadBefore, m.LoadAfter),
		fmt.Sprintf("Each run: a fresh `%s` process on 127.0.0.1, %d warm-up requests (not counted), then %d measured POST /echo requests from %d keep-alive connections (a scenario's own connections and requests where its description says); %s, seed %d.",
			strings.Join(append([]string{"demo-server -pool MODE"}, m.ServerArgs...), " "), m.Warmup, m.Requests, m.Concurrency, plural(m.Rounds, "round"), m.Seed),
		"Server: " + m.ServerBuild + ".",
		"Order: each round runs every workload, and within it every mode, starting with a different mode each round, so machine drift spreads over all modes.",
		"Every response is checked: status 200, the echoed length, and a CRC-32C of the echoed bytes. Errors count failed requests, warm-up included.",
		"Throughput: measured requests ÷ their wall time. Latency: from sending a request to reading the last byte of its echo, nearest-rank percentiles.",
		"Allocated bytes per request: the growth of the server's go_memstats_alloc_bytes_total over the measured requests, less the cost of one /metrics scrape (taken from two scrapes back to back), ÷ requests.",
		"GC cycles per 1,000 requests: the growth of go_gc_duration_seconds_count × 1,000 ÷ requests. CPU µs/req: the growth of process_cpu_seconds_total (10 ms resolution) ÷ requests.",
		"Peak RSS: the server's VmHWM from /proc/PID/status just before it is stopped, so over its whole life: start, warm-up and load.",
		"Pool hits: the share of the middleware's buffer gets served from idle memory (bufpool_hits_total ÷ bufpool_gets_total); mode off has no middleware.",
		"Ratios: a mode's figure ÷ that of mode off in the same round and workload; tables give the median over rounds and (min–max). Verdicts judge the median ratio.",
		"Best peer: in each round, the better figure of calibrated and syncpool (the pool a user would pick instead), chosen per metric; ratios to it are taken in the same round.",
	}
	if len(m.SpikeWaits) > 0 {
		var waits []string
		for _, w := range m.SpikeWaits {
			waits = append(waits, fmt.Sprintf("%g s", w))
		}
		lines = append(lines, fmt.Sprintf("S2 (spike then small): after the warm-up, the spike's 4 MiB bodies from connections of their own, closed after it; "+
			"then the measured small requests, whose figures (throughput, latency, allocation) the tables give; the connections are closed and "+
			"the server's VmRSS and go_memstats_heap_inuse_bytes are read %s after the last spike response (the columns named +5 s and +30 s hold them, "+
			"whatever the waits). Peak RSS is VmHWM over the whole run, the spike included.", strings.Join(waits, " and ")))
	}
	return lines
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func commandNote(cmd string) string {
	if cmd == "" {
		return ""
	}
	return "; command: `" + cmd + "`"
}

// clientNote reports what the load generator allocated per request.
func clientNote(s *summary) string {
	var worst float64
	for _, ws := range s.Workloads {
		for _, ms := range ws.Modes {
			worst = max(worst, float64(ms.ClientAlloc))
		}
	}
	return fmt.Sprintf("The load generator allocated at most %s per request (median over rounds, worst workload and mode), so it leaves the CPU to the server.",
		formatBytes(worst))
}

// markdown renders the report as markdown; the charts are linked as the
// SVG files WriteReport writes beside it.
func markdown(res *Results, charts []namedChart) string {
	s := res.Summary
	var b strings.Builder
	b.WriteString("# bodypool A/B load test: demo-server pool modes\n\n")
	fmt.Fprintf(&b, "**%s**\n\n", headline(res))
	fmt.Fprintf(&b, "> %s\n\n", sharedMachineNote)

	b.WriteString("## Targets\n\n")
	b.WriteString(targetsText + "\n\n")
	if len(s.Verdicts) > 0 {
		b.WriteString(verdictTable(s).markdown())
		b.WriteString("\n")
	}

	b.WriteString("## Modes\n\n")
	for _, mm := range modeMeanings {
		fmt.Fprintf(&b, "- `%s`: %s.\n", mm.mode, mm.meaning)
	}
	b.WriteString("\n## Setup and method\n\n")
	for _, line := range setup(res) {
		fmt.Fprintf(&b, "- %s\n", line)
	}
	fmt.Fprintf(&b, "- %s\n\n", clientNote(s))

	b.WriteString("## Results per workload\n\n")
	for _, ws := range s.Workloads {
		fmt.Fprintf(&b, "### %s: %s\n\n", ws.Workload, ws.Description)
		b.WriteString("Median over rounds:\n\n")
		b.WriteString(absoluteTable(ws).markdown())
		if rt := ratioTable(ws); len(rt.Rows) > 0 {
			fmt.Fprintf(&b, "\nRatio to `%s` in the same round, median (min–max) over rounds:\n\n", Baseline)
			b.WriteString(rt.markdown())
		}
		if pt := peerTable(ws); len(pt.Rows) > 0 {
			b.WriteString("\nRatio to the best peer (the better of `calibrated` and `syncpool`) in the same round, median (min–max) over rounds:\n\n")
			b.WriteString(pt.markdown())
		}
		b.WriteString("\n")
	}

	if len(charts) > 0 {
		b.WriteString("## Charts\n\n")
		b.WriteString("The HTML report shows them inline; each is also a standalone file:\n\n")
		for _, c := range charts {
			fmt.Fprintf(&b, "- [%s](%s)\n", c.Chart.Title, c.File)
		}
		b.WriteString("\n")
	}
	return b.String()
}

var htmlPage = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>bodypool A/B load test</title>
<style>
body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.met { color: #1b7a3d; font-weight: bold; }
.missed { color: #b3261e; font-weight: bold; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5em 1em; }
figure { margin: 1em 0; overflow-x: auto; }
</style>
</head>
<body>
<h1>bodypool A/B load test: demo-server pool modes</h1>
<p><strong>{{.Headline}}</strong></p>
<p class="note">{{.Note}}</p>
<h2>Targets</h2>
<p>{{.Targets}}</p>
{{template "table" .Verdicts}}
<h2>Modes</h2>
<ul>{{range .Modes}}<li><code>{{.Mode}}</code>: {{.Meaning}}.</li>{{end}}</ul>
<h2>Setup and method</h2>
<ul>{{range .Setup}}<li>{{.}}</li>{{end}}</ul>
<h2>Results per workload</h2>
{{range .Workloads}}
<h3>{{.Title}}</h3>
<p>Median over rounds:</p>
{{template "table" .Abs}}
{{if .Ratio.Rows}}<p>Ratio to <code>{{$.Baseline}}</code> in the same round, median (min–max) over rounds:</p>
{{template "table" .Ratio}}{{end}}
{{if .Peer.Rows}}<p>Ratio to the best peer (the better of <code>calibrated</code> and <code>syncpool</code>) in the same round, median (min–max) over rounds:</p>
{{template "table" .Peer}}{{end}}
{{end}}
<h2>Charts</h2>
{{range .Charts}}<figure>{{.SVG}}<figcaption><a href="{{.File}}">{{.File}}</a></figcaption></figure>
{{end}}
</body>
</html>
{{define "table"}}{{if .Rows}}<table>
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td class="{{.Class}}">{{.Text}}</td>{{end}}</tr>
{{end}}</table>{{end}}{{end}}
`))

type htmlCell struct{ Text, Class string }

type htmlTable struct {
	Header []string
	Rows   [][]htmlCell
}

func toHTML(t table) htmlTable {
	h := htmlTable{Header: t.Header}
	for _, r := range t.Rows {
		var row []htmlCell
		for i, c := range r {
			class := "num"
			switch {
			case strings.HasPrefix(c, statusMet):
				class = "met"
			case strings.HasPrefix(c, "MISSED"):
				class = "missed"
			case t.Left[i]:
				class = ""
			}
			row = append(row, htmlCell{c, class})
		}
		h.Rows = append(h.Rows, row)
	}
	return h
}

// htmlReport renders the report as one htmlReport page with the charts inline.
func htmlReport(res *Results, charts []namedChart) ([]byte, error) {
	type workload struct {
		Title            string
		Abs, Ratio, Peer htmlTable
	}
	type chart struct {
		File string
		SVG  template.HTML
	}
	type mode struct{ Mode, Meaning string }
	data := struct {
		Headline, Note, Baseline, Targets string
		Verdicts                          htmlTable
		Modes                             []mode
		Setup                             []string
		Workloads                         []workload
		Charts                            []chart
	}{
		Headline: headline(res),
		Note:     sharedMachineNote,
		Baseline: Baseline,
		Targets:  strings.ReplaceAll(targetsText, "`", ""),
		Verdicts: toHTML(verdictTable(res.Summary)),
		Setup:    append(setup(res), clientNote(res.Summary)),
	}
	for i, line := range data.Setup {
		data.Setup[i] = strings.ReplaceAll(line, "`", "") // Markdown code marks
	}
	for _, mm := range modeMeanings {
		data.Modes = append(data.Modes, mode{mm.mode, mm.meaning})
	}
	for _, ws := range res.Summary.Workloads {
		data.Workloads = append(data.Workloads, workload{
			Title: ws.Workload + ": " + ws.Description,
			Abs:   toHTML(absoluteTable(ws)),
			Ratio: toHTML(ratioTable(ws)),
			Peer:  toHTML(peerTable(ws)),
		})
	}
	for _, c := range charts {
		svg := c.Chart.SVG()
		// The SVG is built by svgchart, which escapes every text it holds.
		data.Charts = append(data.Charts, chart{c.File, template.HTML(svg)})
	}
	var b bytes.Buffer
	if err := htmlPage.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
