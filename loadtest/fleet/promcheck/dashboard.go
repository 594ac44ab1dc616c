package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// dsVariable is the name of the dashboard's datasource template variable.
const dsVariable = "DS_PROMETHEUS"

// target is one query of one panel.
type target struct {
	Panel   string // panel title
	PanelID int
	RefID   string
	Expr    string
	Legend  string // legendFormat
	DS      string // datasource uid of the target, or of its panel if unset
}

// variable is one template variable of the dashboard.
type variable struct {
	Name       string
	Type       string
	Query      string // the query as text (definition of a query variable)
	Multi      bool
	IncludeAll bool
	AllValue   string
}

// dashboard is what promcheck needs of a dashboard JSON document.
type dashboard struct {
	Title     string
	Targets   []target
	Variables []variable
	panelIDs  []int
	panels    []panelInfo
}

type panelInfo struct {
	ID      int
	Title   string
	Type    string
	DS      string
	Unit    string
	Targets int
}

// parseDashboard extracts the targets and template variables of a Grafana
// dashboard. Panels nested in rows (the panels of a collapsed row) and the
// legacy rows[].panels layout are both walked.
func parseDashboard(data []byte) (*dashboard, error) {
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("dashboard JSON: %w", err)
	}
	// An export wrapped as {"dashboard": {...}} (the HTTP API form).
	if inner, ok := root["dashboard"].(map[string]any); ok {
		root = inner
	}
	d := &dashboard{Title: str(root["title"])}
	d.walkPanels(root["panels"], "")
	if rows, ok := root["rows"].([]any); ok {
		for _, r := range rows {
			if rm, ok := r.(map[string]any); ok {
				d.walkPanels(rm["panels"], "")
			}
		}
	}
	if tm, ok := root["templating"].(map[string]any); ok {
		list, _ := tm["list"].([]any)
		for _, v := range list {
			vm, ok := v.(map[string]any)
			if !ok {
				continue
			}
			q := str(vm["definition"])
			switch qv := vm["query"].(type) {
			case string:
				if q == "" {
					q = qv
				}
			case map[string]any:
				if q == "" {
					q = str(qv["query"])
				}
			}
			d.Variables = append(d.Variables, variable{
				Name:       str(vm["name"]),
				Type:       str(vm["type"]),
				Query:      q,
				Multi:      vm["multi"] == true,
				IncludeAll: vm["includeAll"] == true,
				AllValue:   str(vm["allValue"]),
			})
		}
	}
	return d, nil
}

func (d *dashboard) walkPanels(v any, inheritedDS string) {
	list, _ := v.([]any)
	for _, p := range list {
		pm, ok := p.(map[string]any)
		if !ok {
			continue
		}
		id := num(pm["id"])
		title := str(pm["title"])
		ds := dsUID(pm["datasource"])
		if ds == "" {
			ds = inheritedDS
		}
		info := panelInfo{ID: id, Title: title, Type: str(pm["type"]), DS: dsUID(pm["datasource"])}
		if fc, ok := pm["fieldConfig"].(map[string]any); ok {
			if def, ok := fc["defaults"].(map[string]any); ok {
				info.Unit = str(def["unit"])
			}
		}
		targets, _ := pm["targets"].([]any)
		for _, t := range targets {
			tm, ok := t.(map[string]any)
			if !ok {
				continue
			}
			expr, ok := tm["expr"].(string)
			if !ok {
				continue
			}
			tds := dsUID(tm["datasource"])
			if tds == "" {
				tds = ds
			}
			d.Targets = append(d.Targets, target{
				Panel: title, PanelID: id, RefID: str(tm["refId"]),
				Expr: expr, Legend: str(tm["legendFormat"]), DS: tds,
			})
			info.Targets++
		}
		d.panelIDs = append(d.panelIDs, id)
		d.panels = append(d.panels, info)
		// A collapsed row keeps its panels inside it.
		d.walkPanels(pm["panels"], ds)
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

// dsUID returns the uid of a datasource reference, which is either an
// object {"type": ..., "uid": ...} or (in old dashboards) a name string.
func dsUID(v any) string {
	switch ds := v.(type) {
	case string:
		return ds
	case map[string]any:
		return str(ds["uid"])
	}
	return ""
}

// bufpoolMetricRe finds bufpool_ metric names and their label matchers.
// Every bufpool_ metric but the bufpool_http_ ones carries a pool label.
var bufpoolMetricRe = regexp.MustCompile(`\b(bufpool_\w+)(\{[^}]*\})?`)

// scrapedMetricRe finds the metric names, with their label matchers, that
// the instances expose (the bodypool collectors, and the Go and process
// collectors), as opposed to those of k6's remote write.
var scrapedMetricRe = regexp.MustCompile(`\b((?:bufpool|go|process)_\w+)(\{[^}]*\})?`)

// rangeRe finds range and subquery selectors; [[var]] is not one.
var rangeRe = regexp.MustCompile(`\[([^\[\]]*)\]`)

// lint checks the structure of the dashboard against what the project
// promises of it. It returns one message per problem.
func lint(d *dashboard) []string {
	var probs []string
	dsRef := "${" + dsVariable + "}"
	seen := map[int]bool{}
	for _, p := range d.panels {
		if seen[p.ID] {
			probs = append(probs, fmt.Sprintf("panel %q: duplicate id %d", p.Title, p.ID))
		}
		seen[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.DS != dsRef {
			probs = append(probs, fmt.Sprintf("panel %q: datasource uid %q, want %q", p.Title, p.DS, dsRef))
		}
		if p.Targets == 0 {
			probs = append(probs, fmt.Sprintf("panel %q: no PromQL target", p.Title))
		}
	}
	for _, t := range d.Targets {
		where := fmt.Sprintf("panel %q target %s", t.Panel, t.RefID)
		if t.DS != dsRef {
			probs = append(probs, fmt.Sprintf("%s: datasource uid %q, want %q", where, t.DS, dsRef))
		}
		for _, m := range rangeRe.FindAllStringSubmatch(t.Expr, -1) {
			if !strings.HasPrefix(m[1], "$__") && !strings.HasPrefix(m[1], "${__") {
				probs = append(probs, fmt.Sprintf("%s: fixed range [%s], want a Grafana interval variable such as $__rate_interval", where, m[1]))
			}
		}
		if strings.Contains(t.Expr, "rate(") && !strings.Contains(t.Expr, "$__rate_interval") {
			probs = append(probs, fmt.Sprintf("%s: rate() without $__rate_interval", where))
		}
		for _, m := range scrapedMetricRe.FindAllStringSubmatch(t.Expr, -1) {
			for _, v := range []string{"job", "instance"} {
				if want := v + `=~"$` + v + `"`; !strings.Contains(m[2], want) {
					probs = append(probs, fmt.Sprintf("%s: %s selected without %s", where, m[1], want))
				}
			}
		}
		for _, m := range bufpoolMetricRe.FindAllStringSubmatch(t.Expr, -1) {
			if !strings.HasPrefix(m[1], "bufpool_http_") && !strings.Contains(m[2], `pool=~"$pool"`) {
				probs = append(probs, fmt.Sprintf("%s: %s selected without pool=~\"$pool\"", where, m[1]))
			}
		}
	}
	var haveDS, havePool, haveInstance bool
	for _, v := range d.Variables {
		switch v.Name {
		case dsVariable:
			haveDS = true
			if v.Type != "datasource" || v.Query != "prometheus" {
				probs = append(probs, fmt.Sprintf("variable %s: type %q query %q, want datasource/prometheus", v.Name, v.Type, v.Query))
			}
		case "instance":
			haveInstance = true
			if !v.Multi || !v.IncludeAll {
				probs = append(probs, "variable instance: want multi-value with an All option")
			}
		case "pool":
			havePool = true
			if sel, label, ok := parseLabelValues(v.Query); v.Type != "query" || !ok || label != "pool" || !strings.HasPrefix(sel, "bufpool_gets_total") {
				probs = append(probs, fmt.Sprintf("variable pool: type %q query %q, want label_values(bufpool_gets_total, pool)", v.Type, v.Query))
			}
			if !v.Multi || !v.IncludeAll {
				probs = append(probs, "variable pool: want multi-value with an All option")
			}
		}
	}
	if !haveInstance {
		probs = append(probs, "no instance variable")
	}
	if !haveDS {
		probs = append(probs, "no datasource variable "+dsVariable)
	}
	if !havePool {
		probs = append(probs, "no pool variable")
	}
	if len(d.Targets) == 0 {
		probs = append(probs, "no PromQL targets")
	}
	return probs
}
