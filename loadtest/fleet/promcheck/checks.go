package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/common/model"
)

// report prints one line per check and keeps the tally.
type report struct {
	ok, failed int
	failures   []string // printed again at the end
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

// describe summarises the result of a panel expression, or the error
// evaluating it; it passes when a sample is not NaN.
func describe(v model.Vector, err error) (string, bool) {
	if err != nil {
		return err.Error(), false
	}
	finite := 0
	for _, s := range v {
		if !math.IsNaN(float64(s.Value)) {
			finite++
		}
	}
	switch {
	case len(v) == 0:
		return "empty result", false
	case finite == 0:
		return fmt.Sprintf("%d series, all NaN", len(v)), false
	}
	return fmt.Sprintf("%d series (%d not NaN), e.g. %s = %.4g", len(v), finite, v[0].Metric, float64(v[0].Value)), true
}

// first evaluates expr at time at and returns its first sample.
func first(ctx context.Context, c *client, expr string, vars map[string]string, at time.Time) (*model.Sample, error) {
	v, err := c.query(ctx, expr, vars, at)
	if err == nil && len(v) == 0 {
		err = fmt.Errorf("empty result for %s", expr)
	}
	if err != nil {
		return nil, err
	}
	return v[0], nil
}

// checkHitRatio asserts the steady-state hit ratio of the busiest size band
// of cfg.pool, summed over every instance Prometheus scrapes.
func checkHitRatio(ctx context.Context, c *client, cfg config, r *report) {
	window := cfg.to.Sub(cfg.from.Add(cfg.warmup)).Truncate(time.Second)
	what := "hit ratio pool=" + cfg.pool
	w := model.Duration(window).String()
	err := fmt.Errorf("steady window %s too short (run %s, warmup %s)", window, cfg.to.Sub(cfg.from), cfg.warmup)
	var gets, hits *model.Sample
	if window >= 2*time.Second {
		gets, err = first(ctx, c, fmt.Sprintf(`topk(1, sum by (band) (increase(bufpool_gets_total{pool=%q,band!="+Inf"}[%s])))`, cfg.pool, w), nil, cfg.to)
	}
	if err == nil {
		what += " band=" + string(gets.Metric["band"])
		hits, err = first(ctx, c, fmt.Sprintf(`sum(increase(bufpool_hits_total{pool=%q,band=%q}[%s]))`, cfg.pool, gets.Metric["band"], w), nil, cfg.to)
	}
	if err != nil {
		r.line(false, what, err.Error())
		return
	}
	ratio := float64(hits.Value / gets.Value) // NaN without gets
	detail := fmt.Sprintf("%.4f over %s after a %s warm-up (%.0f hits / %.0f gets; want >= %.2f with >= %.0f gets)",
		ratio, w, cfg.warmup, float64(hits.Value), float64(gets.Value), cfg.minHitRatio, cfg.minGets)
	r.line(float64(gets.Value) >= cfg.minGets && ratio >= cfg.minHitRatio, what, detail)
}

// heapQuery is the largest heap in use of the scraped processes over the
// run.
const heapQuery = `max(max_over_time(go_memstats_heap_inuse_bytes{job=~"$job"}[$__range]))`

// checkHeap asserts the bound on the heap of the scraped processes.
func checkHeap(ctx context.Context, c *client, cfg config, vars map[string]string, r *report) {
	const what = "max heap in use"
	heap, err := first(ctx, c, heapQuery, vars, cfg.to)
	if err != nil {
		r.line(false, what, err.Error())
		return
	}
	v := float64(heap.Value)
	detail := fmt.Sprintf("%s (%.0f bytes) from %s; bound %s", formatUnit(v, "bytes"), v, heapQuery, formatUnit(float64(cfg.heapMax), "bytes"))
	r.line(v < float64(cfg.heapMax), what, detail)
}
