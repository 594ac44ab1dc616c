package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// describe summarises a result for a report line.
func describe(samples []sample) (string, bool) {
	if len(samples) == 0 {
		return "empty result", false
	}
	finite := 0
	for _, s := range samples {
		if !math.IsNaN(s.Value) {
			finite++
		}
	}
	if finite == 0 {
		return fmt.Sprintf("%d series, all NaN", len(samples)), false
	}
	return fmt.Sprintf("%d series (%d not NaN), e.g. %s = %s", len(samples), finite, seriesName(samples[0].Metric), fmtValue(samples[0].Value)), true
}

func seriesName(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if k == "job" || k == "instance" || k == "__name__" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(m[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func fmtValue(f float64) string {
	return strconv.FormatFloat(f, 'g', 4, 64)
}

type report struct {
	ok, failed int
	failures   []string
}

func (r *report) line(ok bool, what, detail string) {
	status := "OK  "
	if ok {
		r.ok++
	} else {
		status = "FAIL"
		r.failed++
		r.failures = append(r.failures, what+": "+detail)
	}
	fmt.Printf("%s %s: %s\n", status, what, detail)
}

func scalarQuery(ctx context.Context, c *client, q string, at time.Time) (float64, map[string]string, error) {
	_, samples, err := c.query(ctx, q, at)
	if err != nil {
		return 0, nil, err
	}
	if len(samples) == 0 {
		return 0, nil, fmt.Errorf("empty result for %s", q)
	}
	return samples[0].Value, samples[0].Metric, nil
}

// checkHitRatio asserts the steady-state hit ratio of one size band of one
// pool, over all the instances that match -var job and instance.
func checkHitRatio(ctx context.Context, c *client, cfg config, r *report) string {
	start := cfg.from.t.Add(cfg.warmup)
	window := cfg.to.t.Sub(start).Truncate(time.Second)
	what := fmt.Sprintf("hit ratio pool=%s", cfg.pool)
	if window < 2*time.Second {
		r.line(false, what, fmt.Sprintf("steady window %s too short (run %s, warmup %s)", window, cfg.to.t.Sub(cfg.from.t), cfg.warmup))
		return what + ": not measured"
	}
	w := promDuration(window)
	band := cfg.band
	if band == "auto" {
		q := fmt.Sprintf(`topk(1, sum by (band) (increase(bufpool_gets_total{pool=%s,band!="+Inf"}[%s])))`, strconv.Quote(cfg.pool), w)
		_, m, err := scalarQuery(ctx, c, q, cfg.to.t)
		if err != nil {
			r.line(false, what, "finding the busiest band: "+err.Error())
			return what + ": not measured"
		}
		band = m["band"]
	}
	what += " band=" + band
	sel := fmt.Sprintf(`{pool=%s,band=%s}`, strconv.Quote(cfg.pool), strconv.Quote(band))
	gets, _, err := scalarQuery(ctx, c, fmt.Sprintf(`sum(increase(bufpool_gets_total%s[%s]))`, sel, w), cfg.to.t)
	if err != nil {
		r.line(false, what, err.Error())
		return what + ": not measured"
	}
	hits, _, err := scalarQuery(ctx, c, fmt.Sprintf(`sum(increase(bufpool_hits_total%s[%s]))`, sel, w), cfg.to.t)
	if err != nil {
		r.line(false, what, err.Error())
		return what + ": not measured"
	}
	ratio := math.NaN()
	if gets > 0 {
		ratio = hits / gets
	}
	detail := fmt.Sprintf("%.4f over %s after a %s warm-up (%.0f hits / %.0f gets; want >= %.2f with >= %.0f gets)",
		ratio, w, cfg.warmup, hits, gets, cfg.minHitRatio, cfg.minGets)
	ok := gets >= cfg.minGets && ratio >= cfg.minHitRatio
	r.line(ok, what, detail)
	return what + " = " + detail
}

// checkHeap asserts the bound on the heap of the scraped process.
func checkHeap(ctx context.Context, c *client, cfg config, vars map[string]string, r *report) string {
	what := "max heap in use"
	q, err := substitute(cfg.heapQuery, vars)
	if err != nil {
		r.line(false, what, err.Error())
		return what + ": not measured"
	}
	v, _, err := scalarQuery(ctx, c, q, cfg.to.t)
	if err != nil {
		r.line(false, what, err.Error())
		return what + ": not measured"
	}
	detail := fmt.Sprintf("%s (%.0f bytes) from %s; bound %s", formatBytes(v), v, q, formatBytes(float64(cfg.heapMax)))
	r.line(!math.IsNaN(v) && v < float64(cfg.heapMax), what, detail)
	return what + " = " + detail
}
