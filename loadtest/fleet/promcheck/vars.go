package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// varRe matches the Grafana variable syntaxes $name, ${name}, ${name:fmt}
// and [[name]]. A name starts with a letter or an underscore, so that $1
// (as in the replacement of label_replace) is not a variable.
var varRe = regexp.MustCompile(`\$\{([A-Za-z_]\w*)(?::\w+)?\}|\[\[([A-Za-z_]\w*)(?::\w+)?\]\]|\$([A-Za-z_]\w*)`)

// substitute replaces the template variables of expr by their values. A
// variable without a value is an error. Formats such as ${pool:regex} are
// accepted and the value is inserted as given.
func substitute(expr string, vars map[string]string) (string, error) {
	var missing []string
	out := varRe.ReplaceAllStringFunc(expr, func(m string) string {
		sub := varRe.FindStringSubmatch(m)
		v, ok := vars[sub[1]+sub[2]+sub[3]]
		if !ok {
			missing = append(missing, sub[1]+sub[2]+sub[3])
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return out, fmt.Errorf("no value for variable(s) %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// builtinVars returns Grafana's global interval variables for the given
// rate interval, interval and dashboard range, durations written as
// PromQL writes them.
func builtinVars(rateInterval, interval, rng time.Duration) map[string]string {
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	return map[string]string{
		"__rate_interval":    model.Duration(rateInterval).String(),
		"__rate_interval_ms": ms(rateInterval),
		"__interval":         model.Duration(interval).String(),
		"__interval_ms":      ms(interval),
		"__range":            model.Duration(rng).String(),
		"__range_s":          strconv.FormatInt(int64(rng/time.Second), 10),
		"__range_ms":         ms(rng),
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
