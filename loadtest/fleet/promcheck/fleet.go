package main

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"
)

// The fleet checks prove that the dashboard's panels aggregate correctly
// over instances. Every panel target that filters on $instance is
// evaluated once with $instance matching all the instances of -instances
// and once per instance, at the same instant, and the results are
// compared by the shape of the expression:
//
//   - sum by (...) (...): the value for all instances equals the sum of
//     the per-instance values, series by series;
//   - max by (...) (...): it equals the maximum of the per-instance values;
//   - A / B with A and B sums (the hit ratios, the mean body sizes): A and
//     B are each checked as sums, and the value for all instances equals
//     A / B of all instances, the ratio of the sums, which differs from
//     the mean of the per-instance ratios;
//   - histogram_quantile(q, sum by (le) (...)): the buckets are checked as
//     a sum;
//   - anything else is per instance (the Go runtime panels): each
//     per-instance result holds only that instance's series, and together
//     they are the result for all instances.
//
// A sum check whose every value is zero proves nothing about the filter
// (0 + 0 = 0); it passes but is counted apart, and the checks fail unless
// at least minFleetEvidence targets had non-zero values on at least two
// instances. When -job-filter names a job, the per-instance targets are
// also evaluated with $job and $instance both ".*": their result must hold
// series of another job (the e2e Prometheus scrapes itself), which the
// filtered result must not.

// minFleetEvidence is the fewest targets whose sums must be non-vacuous.
const minFleetEvidence = 5

// shape is how a target's value over several instances is made from the
// per-instance values.
type shape int

const (
	shapePerInstance shape = iota
	shapeSum
	shapeMax
	shapeRatio
	shapeQuantile
)

var (
	sumRe      = regexp.MustCompile(`^sum(\s+by\s*\([^)]*\))?\s*\(`)
	maxRe      = regexp.MustCompile(`^max(\s+by\s*\([^)]*\))?\s*\(`)
	quantileRe = regexp.MustCompile(`^histogram_quantile\(\s*[0-9.]+\s*,\s*`)
	byClauseRe = regexp.MustCompile(`^\w+\s+by\s*\([^)]*\)\s*`)
)

// classify returns the shape of expr and, for a ratio, its two sides, for a
// quantile its inner sum.
func classify(expr string) (shape, []string) {
	expr = strings.TrimSpace(expr)
	if a, b, ok := splitTopLevel(expr, '/'); ok {
		a, b = strings.TrimSpace(a), strings.TrimSpace(b)
		if sumRe.MatchString(a) && sumRe.MatchString(b) && closes(a) && closes(b) {
			return shapeRatio, []string{a, b}
		}
		return shapePerInstance, nil
	}
	switch {
	case sumRe.MatchString(expr) && closes(expr):
		return shapeSum, nil
	case maxRe.MatchString(expr) && closes(expr):
		return shapeMax, nil
	case quantileRe.MatchString(expr) && closes(expr):
		rest := expr[len(quantileRe.FindString(expr)):]
		inner := strings.TrimSpace(rest[:len(rest)-1]) // without the closing parenthesis
		if sumRe.MatchString(inner) {
			return shapeQuantile, []string{inner}
		}
	}
	return shapePerInstance, nil
}

// splitTopLevel splits expr at its one operator op outside parentheses,
// braces, brackets and quotes.
func splitTopLevel(expr string, op byte) (string, string, bool) {
	depth, at := 0, -1
	inQuote := false
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case inQuote:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '(' || c == '{' || c == '[':
			depth++
		case c == ')' || c == '}' || c == ']':
			depth--
		case c == op && depth == 0:
			if at >= 0 {
				return "", "", false // more than one
			}
			at = i
		}
	}
	if at < 0 {
		return "", "", false
	}
	return expr[:at], expr[at+1:], true
}

// closes reports whether the parenthesis that the aggregation at the start
// of expr opens closes at its very end: "sum(a) + sum(b)" does not.
func closes(expr string) bool {
	open := strings.IndexByte(expr, '(')
	// Skip a "by (...)" clause.
	if m := byClauseRe.FindString(expr); m != "" {
		open = len(m)
	}
	depth := 0
	for i := open; i < len(expr); i++ {
		switch expr[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i == len(expr)-1
			}
		}
	}
	return false
}

// result is a query result keyed by series (labels without __name__).
type result map[string]float64

func toResult(samples []sample) result {
	r := make(result, len(samples))
	for _, s := range samples {
		r[labelKey(s.Metric)] = s.Value
	}
	return r
}

func labelKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, m[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
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

// fleet runs the fleet checks.
type fleet struct {
	c         *client
	at        time.Time
	vars      map[string]string // with $job as given
	instances []string
	jobFilter string
	r         *report

	evidence int // sum checks with non-zero values on two instances or more
}

// eval substitutes expr with $instance set to instance and evaluates it.
func (f *fleet) eval(ctx context.Context, expr, instance string) (result, error) {
	vars := make(map[string]string, len(f.vars)+1)
	for k, v := range f.vars {
		vars[k] = v
	}
	vars["instance"] = instance
	q, err := substitute(expr, vars)
	if err != nil {
		return nil, err
	}
	_, s, err := f.c.query(ctx, q, f.at)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	return toResult(s), nil
}

// all is the $instance value that matches every instance of the check.
func (f *fleet) all() string {
	quoted := make([]string, len(f.instances))
	for i, in := range f.instances {
		quoted[i] = promRegexp(in)
	}
	return strings.Join(quoted, "|")
}

// promRegexp returns a regular expression matching s alone, written to go
// inside a PromQL double-quoted string, where a backslash is itself escaped.
func promRegexp(s string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(s), `\`, `\\`)
}

// perInstance evaluates expr for all instances together and for each one.
func (f *fleet) perInstance(ctx context.Context, expr string) (result, []result, error) {
	all, err := f.eval(ctx, expr, f.all())
	if err != nil {
		return nil, nil, err
	}
	each := make([]result, len(f.instances))
	for i, in := range f.instances {
		if each[i], err = f.eval(ctx, expr, promRegexp(in)); err != nil {
			return nil, nil, err
		}
	}
	return all, each, nil
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
				seenOn[k]++
			}
		}
	}
	var bad []string
	for k, v := range want {
		if got, ok := all[k]; !ok || !approxEqual(got, v) {
			bad = append(bad, fmt.Sprintf("%s: all instances %v (present %v), from each %v", k, got, ok, v))
		}
	}
	for k, v := range all {
		if _, ok := want[k]; !ok {
			bad = append(bad, fmt.Sprintf("%s: %v for all instances, on none alone", k, v))
		}
	}
	for _, n := range seenOn {
		if n >= 2 {
			nonZero++
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return strings.Join(bad, "; "), false, nonZero
	}
	return fmt.Sprintf("%d series, %d non-zero on 2+ instances", len(want), nonZero), true, nonZero
}

func add(a, b float64) float64 { return a + b }

// checkSum checks that expr over all instances is the sum over each.
func (f *fleet) checkSum(ctx context.Context, what, expr string) bool {
	all, each, err := f.perInstance(ctx, expr)
	if err != nil {
		f.r.line(false, what, err.Error())
		return false
	}
	detail, ok, nonZero := combine(all, each, add)
	if nonZero > 0 {
		f.evidence++
	} else if ok {
		detail += " (all zero: no evidence)"
	}
	f.r.line(ok, what, "sum of instances: "+detail)
	return ok
}

func (f *fleet) check(ctx context.Context, t target) {
	what := fmt.Sprintf("fleet [%s/%s]", t.Panel, t.RefID)
	sh, parts := classify(t.Expr)
	switch sh {
	case shapeSum:
		f.checkSum(ctx, what, t.Expr)
	case shapeQuantile:
		f.checkSum(ctx, what+" buckets", parts[0])
	case shapeMax:
		all, each, err := f.perInstance(ctx, t.Expr)
		if err != nil {
			f.r.line(false, what, err.Error())
			return
		}
		detail, ok, _ := combine(all, each, math.Max)
		f.r.line(ok, what, "max of instances: "+detail)
	case shapeRatio:
		okA := f.checkSum(ctx, what+" numerator", parts[0])
		okB := f.checkSum(ctx, what+" denominator", parts[1])
		if !okA || !okB {
			return
		}
		f.checkRatio(ctx, what, t.Expr, parts[0], parts[1])
	case shapePerInstance:
		f.checkPerInstance(ctx, what, t.Expr)
	}
}

// checkRatio checks that expr (a / b) over all instances is the ratio of the
// sums a and b over all instances, and reports the mean of the
// per-instance ratios beside it.
func (f *fleet) checkRatio(ctx context.Context, what, expr, a, b string) {
	all, each, err := f.perInstance(ctx, expr)
	if err != nil {
		f.r.line(false, what, err.Error())
		return
	}
	num, err := f.eval(ctx, a, f.all())
	if err != nil {
		f.r.line(false, what, err.Error())
		return
	}
	den, err := f.eval(ctx, b, f.all())
	if err != nil {
		f.r.line(false, what, err.Error())
		return
	}
	var bad, notes []string
	for k, d := range den {
		want := num[k] / d
		if got, ok := all[k]; !ok && !math.IsNaN(want) || ok && !approxEqual(got, want) {
			bad = append(bad, fmt.Sprintf("%s: %v, want %v / %v", k, got, num[k], d))
			continue
		}
		var sum float64
		n := 0
		for _, r := range each {
			if v, ok := r[k]; ok && !math.IsNaN(v) {
				sum += v
				n++
			}
		}
		if n > 1 {
			notes = append(notes, fmt.Sprintf("%s %.4f (mean of instance ratios %.4f)", k, want, sum/float64(n)))
		}
	}
	if len(bad) > 0 {
		f.r.line(false, what, "ratio of sums: "+strings.Join(bad, "; "))
		return
	}
	sort.Strings(notes)
	detail := fmt.Sprintf("%d series equal sum/sum", len(den))
	if len(notes) > 0 {
		detail += ": " + strings.Join(notes, ", ")
	}
	f.r.line(true, what, "ratio of sums: "+detail)
}

// checkPerInstance checks that each instance's result holds only its own
// series and that together they are the result for all; with a job
// filter, that $job removes the series of other jobs.
func (f *fleet) checkPerInstance(ctx context.Context, what, expr string) {
	all, each, err := f.perInstance(ctx, expr)
	if err != nil {
		f.r.line(false, what, err.Error())
		return
	}
	var bad []string
	union := result{}
	for i, r := range each {
		want := fmt.Sprintf("instance=%q", f.instances[i])
		for k, v := range r {
			if !strings.Contains(k, want) {
				bad = append(bad, fmt.Sprintf("%s in the result for %s", k, f.instances[i]))
			}
			union[k] = v
		}
		if len(r) == 0 {
			bad = append(bad, "no series for "+f.instances[i])
		}
	}
	if len(bad) == 0 {
		detail, ok, _ := combine(all, []result{union}, add)
		if !ok {
			bad = append(bad, detail)
		}
	}
	if len(bad) > 0 {
		f.r.line(false, what, "per instance: "+strings.Join(bad, "; "))
		return
	}
	detail := fmt.Sprintf("per instance: %d series, each only its instance's", len(union))
	if f.jobFilter != "" {
		vars := f.vars
		f.vars = map[string]string{}
		for k, v := range vars {
			f.vars[k] = v
		}
		f.vars["job"] = ".*"
		unfiltered, err := f.eval(ctx, expr, ".*")
		f.vars = vars
		if err != nil {
			f.r.line(false, what, err.Error())
			return
		}
		others := 0
		for k := range unfiltered {
			if !strings.Contains(k, fmt.Sprintf("job=%q", f.jobFilter)) {
				others++
			}
		}
		for k := range all {
			if !strings.Contains(k, fmt.Sprintf("job=%q", f.jobFilter)) {
				f.r.line(false, what, fmt.Sprintf("job filter: %s in the result for job %s", k, f.jobFilter))
				return
			}
		}
		if others == 0 {
			f.r.line(false, what, "job filter: no series of another job without the filter, so the filter is not shown to work")
			return
		}
		detail += fmt.Sprintf("; $job=%s removes %d series of other jobs", f.jobFilter, others)
	}
	f.r.line(true, what, detail)
}

// runFleet runs the fleet checks of every target that filters on $instance.
func runFleet(ctx context.Context, c *client, d *dashboard, vars map[string]string, instances []string, jobFilter string, at time.Time, r *report) string {
	f := &fleet{c: c, at: at, vars: vars, instances: instances, jobFilter: jobFilter, r: r}
	n := 0
	for _, t := range d.Targets {
		if !strings.Contains(t.Expr, "$instance") {
			continue
		}
		f.check(ctx, t)
		n++
	}
	ok := f.evidence >= minFleetEvidence
	detail := fmt.Sprintf("%d targets over %d instances; %d sums with non-zero values on 2+ instances (want >= %d)",
		n, len(instances), f.evidence, minFleetEvidence)
	r.line(ok, "fleet evidence", detail)
	return "fleet: " + detail
}
