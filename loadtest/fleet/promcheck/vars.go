package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// varRe matches the Grafana variable syntaxes $name, ${name}, ${name:fmt}
// and [[name]].
var varRe = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)`)

// substitute replaces the template variables of expr by their values. A
// variable without a value is an error; $1-style references (as in the
// replacement of label_replace) are left alone. Formats such as
// ${pool:regex} are accepted and the value is inserted as given.
func substitute(expr string, vars map[string]string) (string, error) {
	var missing []string
	out := varRe.ReplaceAllStringFunc(expr, func(m string) string {
		sub := varRe.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		if isDigits(name) {
			return m
		}
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return out, fmt.Errorf("no value for variable(s) %s", strings.Join(missing, ", "))
	}
	return out, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// promDuration formats d the way PromQL writes durations.
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// builtinVars returns Grafana's global interval variables for the given
// rate interval, interval and dashboard range.
func builtinVars(rateInterval, interval, rng time.Duration) map[string]string {
	return map[string]string{
		"__rate_interval":    promDuration(rateInterval),
		"__rate_interval_ms": strconv.FormatInt(rateInterval.Milliseconds(), 10),
		"__interval":         promDuration(interval),
		"__interval_ms":      strconv.FormatInt(interval.Milliseconds(), 10),
		"__range":            promDuration(rng),
		"__range_s":          strconv.FormatInt(int64(rng/time.Second), 10),
		"__range_ms":         strconv.FormatInt(rng.Milliseconds(), 10),
	}
}

// labelValuesRe parses label_values(label) and label_values(selector, label).
var labelValuesRe = regexp.MustCompile(`^\s*label_values\(\s*(?:(.*?)\s*,\s*)?(\w+)\s*\)\s*$`)

// parseLabelValues splits a label_values() variable query into its series
// selector (possibly empty) and label name.
func parseLabelValues(q string) (selector, label string, ok bool) {
	m := labelValuesRe.FindStringSubmatch(q)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}
