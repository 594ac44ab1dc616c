package abtest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The report's fixed text: the shared-machine note and the targets,
// which open it, and the modes and the method, which its setup lists
// after the figures of the run.
var (
	//go:embed report_targets.md
	targetsText string
	//go:embed report_method.md
	methodText string
)

// WriteReport writes results.json, report.md and one SVG chart per
// workload into dir, creating it if needed.
func WriteReport(dir string, res *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	charts := Charts(res)
	files := map[string][]byte{"results.json": append(js, '\n'), "report.md": []byte(markdown(res, charts))}
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

// Headline is the report's one-line verdict: how many targets were met
// and which were missed.
func Headline(res *Results) string {
	var b strings.Builder
	verdicts := Verdicts(res)
	var missed []string
	for _, v := range verdicts {
		if v.Status == StatusMissed {
			missed = append(missed, v.Target.Workload+": "+v.Target.String())
		}
	}
	switch {
	case len(verdicts) == 0:
		b.WriteString("No target could be judged: the run lacks the sized mode, the off baseline or the workloads and scenarios of the targets.")
	case len(missed) == 0:
		fmt.Fprintf(&b, "All %d targets judged were met.", len(verdicts))
	default:
		fmt.Fprintf(&b, "%d of %d targets judged were met; missed: %s.", len(verdicts)-len(missed), len(verdicts), strings.Join(missed, "; "))
	}
	if n := len(targets) - len(verdicts); n > 0 {
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

// setup lists how the run was done, one sentence each.
func setup(res *Results) []string {
	m := res.Meta
	command := ""
	if m.Command != "" {
		command = "; command: `" + m.Command + "`"
	}
	rounds := fmt.Sprintf("%d rounds", m.Rounds)
	if m.Rounds == 1 {
		rounds = "1 round"
	}
	lines := []string{
		fmt.Sprintf("Run %s to %s (%s)%s.", m.Started.Format(time.RFC3339), m.Finished.Format(time.RFC3339),
			m.Finished.Sub(m.Started).Round(time.Second), command),
		fmt.Sprintf("Machine: %d CPUs, %s/%s, %s. Load average (1, 5, 15 min) before: %s; after: %s.",
			m.CPUs, m.OS, m.Arch, m.GoVersion, m.LoadBefore, m.LoadAfter),
		fmt.Sprintf("Each run: a fresh `demo-server -pool MODE` process on 127.0.0.1, %d warm-up requests (not counted), then %d measured POST /echo requests from %d keep-alive connections (a scenario's own connections and requests where its description says); %s, seed %d.",
			m.Warmup, m.Requests, m.Concurrency, rounds, m.Seed),
		"Server: " + m.ServerBuild + ".",
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
	worst := 0.0
	for _, r := range res.Runs {
		worst = max(worst, r.ClientAllocPerRequest)
	}
	return append(lines, fmt.Sprintf("The load generator allocated at most %s per request (worst run), so it leaves the CPU to the server.", formatBytes(worst)))
}

// columns returns the metrics of workload w's tables: those of a spike
// scenario when any of its runs had a spike.
func columns(runs []measurement, w string) []metric {
	spike := slices.ContainsFunc(runs, func(r measurement) bool { return r.Workload == w && r.Spike != nil })
	return slices.DeleteFunc(slices.Clone(metrics), func(m metric) bool { return m.Tables != "all" && (m.Tables == "spike") != spike })
}

// markdown renders the report; each workload shows its chart, the SVG file
// WriteReport writes beside it.
func markdown(res *Results, charts []namedChart) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# bodypool A/B load test: demo-server pool modes\n\n**%s**\n\n%s\n", Headline(res), targetsText)
	var rows [][]string
	for _, v := range Verdicts(res) {
		status := v.Status
		if status == StatusMissed {
			status = "MISSED"
		}
		if v.Note != "" {
			status += " (" + v.Note + ")"
		}
		m, against := metricByKey(v.Target.Metric), v.Target.Against+": "
		against += m.format(v.Baseline)
		if v.Target.Slack != 0 {
			against += fmt.Sprintf(" (+ %g)", v.Target.Slack)
		}
		rows = append(rows, []string{v.Target.Workload, v.Target.String(), m.format(v.Subject), against, formatSpread(v.Ratio), status})
	}
	writeTable(&b, "llrrrl", rows, "workload", "target", "sized", "compared with", "ratio: median (min–max)", "verdict")

	b.WriteString(methodText)
	for _, line := range setup(res) {
		fmt.Fprintf(&b, "- %s\n", line)
	}

	b.WriteString("\n## Results per workload\n\n")
	for _, w := range res.Meta.Workloads {
		fmt.Fprintf(&b, "### %s: %s\n\n", w, res.Meta.Described[w])
		if i := slices.IndexFunc(charts, func(c namedChart) bool { return c.File == "chart-"+w+".svg" }); i >= 0 {
			fmt.Fprintf(&b, "![%s](%s)\n\n", charts[i].Chart.Title, charts[i].File)
		}
		cols := columns(res.Runs, w)
		header := []string{"mode"}
		for _, m := range cols {
			header = append(header, m.Column)
		}
		var abs, base, peer [][]string
		for _, mode := range res.Meta.Modes {
			runs := runsOf(res.Runs, w, mode)
			if len(runs) == 0 {
				continue
			}
			row, baseRow, peerRow := []string{mode}, []string{mode}, []string{mode}
			var hits []float64
			errs := 0
			for _, r := range runs {
				hits = append(hits, ratio(r.PoolHits, r.PoolGets))
				errs += r.Failed()
			}
			for _, m := range cols {
				row = append(row, m.format(figures(res.Runs, w, mode, m).Median))
				baseRow = append(baseRow, formatSpread(spreadOf(ratios(res.Runs, w, mode, Baseline, m, 0))))
				peerRow = append(peerRow, formatSpread(spreadOf(ratios(res.Runs, w, mode, bestPeer, m, 0))))
			}
			hitRatio := "–"
			if h := spreadOf(hits).Median; !math.IsNaN(h) {
				hitRatio = fmt.Sprintf("%.1f%%", 100*h)
			}
			abs = append(abs, append(row, hitRatio, fmt.Sprint(errs)))
			if mode != Baseline && len(runsOf(res.Runs, w, Baseline)) > 0 {
				base = append(base, baseRow)
			}
			if mode != Baseline && len(runsOf(res.Runs, w, peers...)) > 0 {
				peer = append(peer, peerRow)
			}
		}
		b.WriteString("Median over rounds:\n\n")
		writeTable(&b, "l", abs, append(header, "pool hits", "errors")...)
		if len(base) > 0 {
			fmt.Fprintf(&b, "Ratio to `%s` in the same round, median (min–max) over rounds:\n\n", Baseline)
			writeTable(&b, "l", base, header...)
		}
		if len(peer) > 0 {
			b.WriteString("Ratio to the best peer (the better of `calibrated` and `syncpool` by its median) in the same round, median (min–max) over rounds:\n\n")
			writeTable(&b, "l", peer, header...)
		}
	}
	return b.String()
}

// writeTable writes a GitHub-flavoured Markdown table and a blank line, or
// nothing when there are no rows. Column i is aligned left when align[i]
// is 'l' and right (figures) otherwise, also past the end of align.
func writeTable(b *strings.Builder, align string, rows [][]string, header ...string) {
	if len(rows) == 0 {
		return
	}
	row := func(cells []string) {
		for _, c := range cells {
			fmt.Fprintf(b, "| %s ", strings.ReplaceAll(c, "|", `\|`))
		}
		b.WriteString("|\n")
	}
	row(header)
	for i := range header {
		if i < len(align) && align[i] == 'l' {
			b.WriteString("| --- ")
		} else {
			b.WriteString("| ---: ")
		}
	}
	b.WriteString("|\n")
	for _, r := range rows {
		row(r)
	}
	b.WriteString("\n")
}

// formatRatio writes a ratio with two or three significant digits.
func formatRatio(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "n/a"
	case v == 0:
		return "0"
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 0.1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// formatSpread writes "median (min–max)", or the median alone for one round.
func formatSpread(s spread) string {
	if s.N <= 1 || s.Min == s.Max {
		return formatRatio(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", formatRatio(s.Median), formatRatio(s.Min), formatRatio(s.Max))
}
