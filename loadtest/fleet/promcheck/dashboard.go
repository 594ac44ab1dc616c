package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// dsVariable is the name of the dashboard's datasource template variable;
// every panel and target must use it as ${DS_PROMETHEUS}.
const dsVariable = "DS_PROMETHEUS"

// dashboard is what promcheck reads of a Grafana dashboard in the classic
// JSON model (schemaVersion 38). Field names match the JSON keys, as
// encoding/json matches them, regardless of case.
type dashboard struct {
	Title      string
	Panels     []panel
	Templating struct{ List []variable }

	panels  []panel  // rows and panels, those inside collapsed rows included
	targets []target // the PromQL targets of every panel, in order
}

// panel is a panel or a row; a collapsed row holds its panels.
type panel struct {
	ID          int
	Title, Type string
	Datasource  datasource
	FieldConfig struct{ Defaults struct{ Unit string } }
	Targets     []target
	Panels      []panel
}

// target is one PromQL query of a panel.
type target struct {
	RefID, Expr, LegendFormat string
	Datasource                datasource // the panel's when the target names none
	Panel                     string     `json:"-"` // the panel's title
}

// datasource is a reference to a datasource.
type datasource struct{ UID string }

// variable is a template variable.
type variable struct {
	Name, Type        string
	Definition        string // the query as text; Query's when empty
	Query             any    // a string, or in newer exports an object beside Definition
	Multi, IncludeAll bool
}

// parseDashboard decodes a dashboard and lists its panels and targets.
// Targets without an expression (of another datasource type) are left out.
func parseDashboard(data []byte) (*dashboard, error) {
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("dashboard JSON: %w", err)
	}
	for i, v := range d.Templating.List {
		if s, ok := v.Query.(string); ok && v.Definition == "" {
			d.Templating.List[i].Definition = s
		}
	}
	for _, row := range d.Panels {
		for _, p := range append([]panel{row}, row.Panels...) {
			p.Targets = slices.DeleteFunc(p.Targets, func(t target) bool { return t.Expr == "" })
			for i := range p.Targets {
				p.Targets[i].Panel = p.Title
				if p.Targets[i].Datasource.UID == "" {
					p.Targets[i].Datasource = p.Datasource
				}
			}
			d.panels = append(d.panels, p)
			d.targets = append(d.targets, p.Targets...)
		}
	}
	return &d, nil
}

var (
	// bufpoolMetricRe finds bufpool_ metric names and their label matchers.
	// Every bufpool_ metric but the bufpool_http_ ones carries a pool label.
	bufpoolMetricRe = regexp.MustCompile(`\b(bufpool_\w+)(\{[^}]*\})?`)
	// scrapedMetricRe finds the metrics, with their label matchers, that the
	// instances expose (the bodypool, Go and process collectors), as opposed
	// to those of k6's remote write.
	scrapedMetricRe = regexp.MustCompile(`\b((?:bufpool|go|process)_\w+)(\{[^}]*\})?`)
	// rangeRe finds range and subquery selectors; [[var]] is not one.
	rangeRe = regexp.MustCompile(`\[([^\[\]]*)\]`)
)

// lint checks the structure of the dashboard against what the project
// promises of it. It returns one message per problem.
func lint(d *dashboard) []string {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	dsRef := "${" + dsVariable + "}"
	seen := map[int]bool{}
	for _, p := range d.panels {
		if seen[p.ID] {
			bad("panel %q: duplicate id %d", p.Title, p.ID)
		}
		seen[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != dsRef {
			bad("panel %q: datasource uid %q, want %q", p.Title, p.Datasource.UID, dsRef)
		}
		if len(p.Targets) == 0 {
			bad("panel %q: no PromQL target", p.Title)
		}
	}
	for _, t := range d.targets {
		where := fmt.Sprintf("panel %q target %s", t.Panel, t.RefID)
		if t.Datasource.UID != dsRef {
			bad("%s: datasource uid %q, want %q", where, t.Datasource.UID, dsRef)
		}
		for _, m := range rangeRe.FindAllStringSubmatch(t.Expr, -1) {
			if !strings.HasPrefix(m[1], "$__") && !strings.HasPrefix(m[1], "${__") {
				bad("%s: fixed range [%s], want a Grafana interval variable such as $__rate_interval", where, m[1])
			}
		}
		if strings.Contains(t.Expr, "rate(") && !strings.Contains(t.Expr, "$__rate_interval") {
			bad("%s: rate() without $__rate_interval", where)
		}
		for _, m := range scrapedMetricRe.FindAllStringSubmatch(t.Expr, -1) {
			for _, v := range []string{"job", "instance"} {
				if want := v + `=~"$` + v + `"`; !strings.Contains(m[2], want) {
					bad("%s: %s selected without %s", where, m[1], want)
				}
			}
		}
		for _, m := range bufpoolMetricRe.FindAllStringSubmatch(t.Expr, -1) {
			if !strings.HasPrefix(m[1], "bufpool_http_") && !strings.Contains(m[2], `pool=~"$pool"`) {
				bad("%s: %s selected without pool=~\"$pool\"", where, m[1])
			}
		}
	}
	if len(d.targets) == 0 {
		bad("no PromQL targets")
	}

	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v, ok := vars[dsVariable]; !ok {
		bad("no datasource variable %s", dsVariable)
	} else if v.Type != "datasource" || v.Definition != "prometheus" {
		bad("variable %s: type %q query %q, want datasource/prometheus", v.Name, v.Type, v.Definition)
	}
	for _, name := range []string{"instance", "pool"} {
		if v, ok := vars[name]; !ok {
			bad("no %s variable", name)
		} else if !v.Multi || !v.IncludeAll {
			bad("variable %s: want multi-value with an All option", name)
		}
	}
	if v, ok := vars["pool"]; ok {
		sel, label, ok := parseLabelValues(v.Definition)
		if v.Type != "query" || !ok || label != "pool" || !strings.HasPrefix(sel, "bufpool_gets_total") {
			bad("variable pool: type %q query %q, want label_values(bufpool_gets_total, pool)", v.Type, v.Definition)
		}
	}
	return probs
}
