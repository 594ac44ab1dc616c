package main

import (
	"fmt"
	"regexp"
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

// The values promcheck gives Grafana's $__rate_interval and $__interval,
// which Grafana computes from the scrape interval and the panel's width:
// fixed here, several times the 1s scrape interval of e2e.sh.
const (
	rateInterval = 15 * time.Second
	interval     = 5 * time.Second
)

// builtinVars returns Grafana's global interval variables for the dashboard
// range rng, durations written as PromQL writes them.
func builtinVars(rng time.Duration) map[string]string {
	return map[string]string{
		"__rate_interval": model.Duration(rateInterval).String(),
		"__interval":      model.Duration(interval).String(),
		"__range":         model.Duration(rng).String(),
	}
}
