package main

import (
	"context"
	"fmt"
	"maps"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// The fleet checks prove that the dashboard's panels aggregate correctly
// over instances. Every target that filters on $instance is evaluated at
// one instant with $instance matching all the instances of -instances and
// with it matching each alone, and the results are compared by the shape
// of the expression (classify): a sum or max by (...) equals the sum or
// the maximum of the per-instance values, series by series; in a ratio of
// two sums each side is checked as a sum, and the ratio for all instances
// must be the ratio of those sums (not the mean of the per-instance
// ratios); a histogram_quantile has its summed buckets checked; any other
// expression is per instance: each instance's result holds only its own
// series, and together they are the result for all. A sum whose every
// value is zero proves nothing (0 + 0 = 0), so at least minFleetEvidence
// sums must have non-zero values on two instances. With -job-filter, the
// per-instance targets must show another job's series (the e2e Prometheus
// scrapes itself) with $job and $instance ".*", and none with $job set.

// minFleetEvidence is the fewest targets whose sums must be non-vacuous.
const minFleetEvidence = 5

var (
	// aggregationRe and quantileRe match masked expressions (see mask).
	aggregationRe = regexp.MustCompile(`^(sum|max)(\s+by\s*\(_*\))?\s*\(_*\)$`)
	quantileRe    = regexp.MustCompile(`^histogram_quantile\s*\(_*\)$`)
)

// mask returns expr with everything inside its outermost parentheses,
// braces and brackets, quoted strings included, replaced by '_': its
// top-level structure, position for position.
func mask(expr string) string {
	b := []byte(expr)
	depth, quoted, escaped := 0, false, false
	for i, c := range b {
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(' || c == '{' || c == '[':
			if depth++; depth == 1 {
				continue
			}
		case c == ')' || c == '}' || c == ']':
			if depth--; depth == 0 {
				continue
			}
		}
		if depth > 0 {
			b[i] = '_'
		}
	}
	return string(b)
}

// aggregation returns "sum" or "max" when expr is that aggregation as a
// whole, else "".
func aggregation(expr string) string {
	if m := aggregationRe.FindStringSubmatch(mask(expr)); m != nil {
		return m[1]
	}
	return ""
}

// classify returns how expr's value over several instances is made from
// the per-instance values: "sum", "max", "ratio" (of two sums, returned in
// parts), "quantile" (of a sum, returned in parts), or "" when it is per
// instance.
func classify(expr string) (kind string, parts []string) {
	expr = strings.TrimSpace(expr)
	m := mask(expr)
	if i := strings.IndexByte(m, '/'); i >= 0 {
		a, b := strings.TrimSpace(expr[:i]), strings.TrimSpace(expr[i+1:])
		if strings.Count(m, "/") == 1 && aggregation(a) == "sum" && aggregation(b) == "sum" {
			return "ratio", []string{a, b}
		}
		return "", nil
	}
	if quantileRe.MatchString(m) {
		args := expr[strings.IndexByte(expr, '(')+1 : len(expr)-1]
		if i := strings.IndexByte(mask(args), ','); i >= 0 && aggregation(strings.TrimSpace(args[i+1:])) == "sum" {
			return "quantile", []string{strings.TrimSpace(args[i+1:])}
		}
	}
	return aggregation(expr), nil
}

// result is a query result: the value of each series, by its labels.
type result map[string]float64

func toResult(v model.Vector) result {
	r := make(result, len(v))
	for _, s := range v {
		r[s.Metric.String()] = float64(s.Value)
	}
	return r
}

// approxEqual compares two figures computed by Prometheus in different
// orders: equal up to rounding, or both NaN.
func approxEqual(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	d := math.Abs(a - b)
	return d <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) || d <= 1e-12
}

// combine checks all == op(each) series by series and describes the
// outcome; nonZero counts the series with non-zero values on two
// instances or more.
func combine(all result, each []result, op func(a, b float64) float64) (detail string, ok bool, nonZero int) {
	want := result{}
	seenOn := map[string]int{}
	for _, r := range each {
		for k, v := range r {
			if old, ok := want[k]; ok {
				want[k] = op(old, v)
			} else {
				want[k] = v
			}
			if v != 0 && !math.IsNaN(v) {
				if seenOn[k]++; seenOn[k] == 2 {
					nonZero++
				}
			}
		}
	}
	var bad []string
	keys := maps.Clone(all)
	maps.Copy(keys, want)
	for k := range keys {
		got, inAll := all[k]
		w, inEach := want[k]
		if !inAll || !inEach || !approxEqual(got, w) {
			bad = append(bad, fmt.Sprintf("%s: %s for all instances, %s from each", k, value(got, inAll), value(w, inEach)))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return strings.Join(bad, "; "), false, nonZero
	}
	return fmt.Sprintf("%d series", len(want)), true, nonZero
}

func value(v float64, present bool) string {
	if !present {
		return "none"
	}
	return fmt.Sprint(v)
}

func add(a, b float64) float64 { return a + b }

// fleet runs the fleet checks.
type fleet struct {
	c         *client
	at        time.Time
	vars      map[string]string
	instances []string // as label values
	patterns  []string // each instance as a regular expression
	jobFilter string
	r         *report
	evidence  int // sum checks with non-zero values on two instances or more
}

// eval evaluates expr with the variables of set in place of f's.
func (f *fleet) eval(ctx context.Context, expr string, set map[string]string) (result, error) {
	vars := maps.Clone(f.vars)
	maps.Copy(vars, set)
	v, err := f.c.query(ctx, expr, vars, f.at)
	return toResult(v), err
}

// compare evaluates expr for all the instances together and for each
// alone, and checks that the first is the sum (kind "sum" or "union") or
// the maximum (kind "max") of the others, series by series. It reports
// the outcome and returns the results and whether they passed.
func (f *fleet) compare(ctx context.Context, what, kind, expr string) (result, []result, bool) {
	all, err := f.eval(ctx, expr, map[string]string{"instance": strings.Join(f.patterns, "|")})
	each := make([]result, len(f.patterns))
	for i, p := range f.patterns {
		if err == nil {
			each[i], err = f.eval(ctx, expr, map[string]string{"instance": p})
		}
	}
	if err != nil {
		f.r.line(false, what, err.Error())
		return nil, nil, false
	}
	op := add
	if kind == "max" {
		op = math.Max
	}
	detail, ok, nonZero := combine(all, each, op)
	if kind == "sum" {
		detail += fmt.Sprintf(", %d non-zero on 2+ instances", nonZero)
		if nonZero > 0 {
			f.evidence++
		}
	}
	f.r.line(ok, what, kind+" of instances: "+detail)
	return all, each, ok
}

func (f *fleet) check(ctx context.Context, t target) {
	what := fmt.Sprintf("fleet [%s/%s]", t.Panel, t.RefID)
	switch kind, parts := classify(t.Expr); kind {
	case "sum", "max":
		f.compare(ctx, what, kind, t.Expr)
	case "quantile":
		f.compare(ctx, what+" buckets", "sum", parts[0])
	case "ratio":
		num, _, okNum := f.compare(ctx, what+" numerator", "sum", parts[0])
		den, _, okDen := f.compare(ctx, what+" denominator", "sum", parts[1])
		if okNum && okDen {
			f.checkRatio(ctx, what, t.Expr, num, den)
		}
	default:
		f.checkPerInstance(ctx, what, t.Expr)
	}
}

// checkRatio checks that expr, num / den, over all instances is the ratio
// of the sums num and den over all instances (which differs from the mean
// of the per-instance ratios).
func (f *fleet) checkRatio(ctx context.Context, what, expr string, num, den result) {
	all, err := f.eval(ctx, expr, map[string]string{"instance": strings.Join(f.patterns, "|")})
	if err != nil {
		f.r.line(false, what, err.Error())
		return
	}
	want := result{}
	for k, n := range num {
		if d, ok := den[k]; ok {
			want[k] = n / d
		}
	}
	detail, ok, _ := combine(all, []result{want}, add)
	f.r.line(ok, what, "ratio of sums: "+detail)
}

// checkPerInstance checks that the result for all instances is the union
// of the per-instance results, each holding only its instance's series;
// with a job filter, that $job removes the series of other jobs.
func (f *fleet) checkPerInstance(ctx context.Context, what, expr string) {
	all, each, ok := f.compare(ctx, what, "union", expr)
	if !ok {
		return
	}
	var bad []string
	for i, r := range each {
		if len(r) == 0 {
			bad = append(bad, "no series for "+f.instances[i])
		}
		for k := range r {
			if !strings.Contains(k, fmt.Sprintf("instance=%q", f.instances[i])) {
				bad = append(bad, fmt.Sprintf("%s in the result for %s", k, f.instances[i]))
			}
		}
	}
	detail := "each instance's result holds only its own series"
	if len(bad) > 0 {
		detail = strings.Join(bad, "; ")
	}
	f.r.line(len(bad) == 0, what+" per instance", detail)
	if f.jobFilter == "" {
		return
	}
	unfiltered, err := f.eval(ctx, expr, map[string]string{"job": ".*", "instance": ".*"})
	if err != nil {
		f.r.line(false, what+" job filter", err.Error())
		return
	}
	otherJobs := func(r result) (n int) {
		for k := range r {
			if !strings.Contains(k, fmt.Sprintf("job=%q", f.jobFilter)) {
				n++
			}
		}
		return n
	}
	leaked, others := otherJobs(all), otherJobs(unfiltered)
	f.r.line(leaked == 0 && others > 0, what+" job filter", fmt.Sprintf(
		"$job=%s: %d series of other jobs with it (want 0), %d without it (want > 0, or the filter is not shown to work)", f.jobFilter, leaked, others))
}

// runFleet runs the fleet checks of every target that filters on $instance.
func runFleet(ctx context.Context, c *client, d *dashboard, vars map[string]string, instances []string, jobFilter string, at time.Time, r *report) {
	f := &fleet{c: c, at: at, vars: vars, instances: instances, jobFilter: jobFilter, r: r}
	for _, in := range instances {
		// A regular expression inside a PromQL double-quoted string, where
		// a backslash is itself escaped.
		f.patterns = append(f.patterns, strings.ReplaceAll(regexp.QuoteMeta(in), `\`, `\\`))
	}
	n := 0
	for _, t := range d.targets {
		if strings.Contains(t.Expr, "$instance") {
			f.check(ctx, t)
			n++
		}
	}
	detail := fmt.Sprintf("%d targets over %d instances; %d sums with non-zero values on 2+ instances (want >= %d)",
		n, len(instances), f.evidence, minFleetEvidence)
	r.line(f.evidence >= minFleetEvidence, "fleet evidence", detail)
}
