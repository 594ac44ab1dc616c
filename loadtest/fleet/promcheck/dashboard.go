package main

import (
	"encoding/json"
	"fmt"
	"slices"
)

// dashboard is what promcheck reads of a Grafana dashboard in the classic
// JSON model (schemaVersion 38). Field names match the JSON keys, as
// encoding/json matches them, regardless of case. The structure of the
// dashboard (datasource, filters, intervals, ids) is linted by the tests
// of loadtest/fleet/dashboard, not here.
type dashboard struct {
	Title      string
	Panels     []panel
	Templating struct{ List []variable }

	panels  []panel  // rows and panels, those inside collapsed rows included
	targets []target // the PromQL targets of every panel, in order
}

// panel is a panel or a row; a collapsed row holds its panels.
type panel struct {
	Title, Type string
	FieldConfig struct{ Defaults struct{ Unit string } }
	Targets     []target
	Panels      []panel
}

// target is one PromQL query of a panel.
type target struct {
	RefID, Expr, LegendFormat string
	Panel                     string `json:"-"` // the panel's title
}

// variable is a template variable.
type variable struct {
	Name, Type string
	Definition string // the query as text (query may be an object)
}

// parseDashboard decodes a dashboard and lists its panels and targets.
// Targets without an expression (of another datasource type) are left out.
func parseDashboard(data []byte) (*dashboard, error) {
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("dashboard JSON: %w", err)
	}
	for _, row := range d.Panels {
		for _, p := range append([]panel{row}, row.Panels...) {
			p.Targets = slices.DeleteFunc(p.Targets, func(t target) bool { return t.Expr == "" })
			for i := range p.Targets {
				p.Targets[i].Panel = p.Title
			}
			d.panels = append(d.panels, p)
			d.targets = append(d.targets, p.Targets...)
		}
	}
	return &d, nil
}
