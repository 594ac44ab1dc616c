//lint:file-ignore SA1019 bodypool.json is the classic dashboard model (schemaVersion 38) that Grafana imports, which the deprecated dashboard package describes; dashboardv2 is the v2 resource format.

package dashboard

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	sdk "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

const dashboardPath = "../../../dashboard/bodypool.json"

// decode decodes a dashboard strictly with the SDK's plugins registered, so
// that panel options, field configs and queries get their typed decoders,
// and returns it with its panels, those inside rows included.
//
// Strictness and typed values come from two passes. In SDK v0.0.22 every
// strict decoder returns its (empty) cog.BuildErrors as a non-nil error,
// and the strict decoders of unions and plugin values (PanelOrRowPanel,
// panel options, field configs, queries) return or skip on it, so that
// after a successful strict decoding Dashboard.Panels holds no panel. The
// strict pass still reports every error at every level (as
// TestDashboardDecodingIsStrict shows); the typed values are then taken
// from the SDK's ordinary decoding of the same, already validated, JSON.
func decode(t *testing.T, data []byte) (*sdk.Dashboard, []sdk.Panel, error) {
	t.Helper()
	plugins.RegisterDefaultPlugins()
	var strict sdk.Dashboard
	if err := noErrors(strict.UnmarshalJSONStrict(data)); err != nil {
		return nil, nil, err
	}
	var d sdk.Dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, nil, err
	}
	var panels []sdk.Panel
	for _, p := range d.Panels {
		if p.Panel != nil {
			panels = append(panels, *p.Panel)
		}
		if p.RowPanel != nil {
			panels = append(panels, p.RowPanel.Panels...)
		}
	}
	return &d, panels, nil
}

// noErrors turns the empty cog.BuildErrors the SDK returns on success into
// nil.
func noErrors(err error) error {
	if be, ok := err.(cog.BuildErrors); ok && len(be) == 0 {
		return nil
	}
	return err
}

func readDashboard(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestDashboardDecodesStrictly decodes the shipped dashboard and checks that
// every panel, option set and query came out as its typed form.
func TestDashboardDecodesStrictly(t *testing.T) {
	d, ps, err := decode(t, readDashboard(t))
	if err != nil {
		t.Fatalf("UnmarshalJSONStrict: %v", err)
	}
	if d.Uid == nil || *d.Uid != "bodypool" {
		t.Errorf("uid %v, want bodypool", d.Uid)
	}
	vars := map[string]sdk.VariableModel{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	for _, name := range []string{"DS_PROMETHEUS", "job", "instance", "pool"} {
		if _, ok := vars[name]; !ok {
			t.Errorf("no template variable %s", name)
		}
	}
	for _, name := range []string{"job", "instance", "pool"} {
		v := vars[name]
		if v.Type != sdk.VariableTypeQuery || v.Multi == nil || !*v.Multi || v.IncludeAll == nil || !*v.IncludeAll {
			t.Errorf("variable %s: type %s multi %v includeAll %v, want a multi-value query with All", name, v.Type, v.Multi, v.IncludeAll)
		}
	}

	if len(ps) < 19 {
		t.Fatalf("%d panels besides rows, want at least 19", len(ps))
	}
	targets := 0
	for _, p := range ps {
		title := ""
		if p.Title != nil {
			title = *p.Title
		}
		switch p.Type {
		case "timeseries":
			if _, ok := p.Options.(*timeseries.Options); !ok {
				t.Errorf("panel %q: options decoded as %T, want *timeseries.Options", title, p.Options)
			}
			if p.FieldConfig == nil {
				t.Errorf("panel %q: no field config", title)
			} else if _, ok := p.FieldConfig.Defaults.Custom.(*timeseries.FieldConfig); !ok {
				t.Errorf("panel %q: custom field config decoded as %T, want *timeseries.FieldConfig", title, p.FieldConfig.Defaults.Custom)
			}
		case "stat":
			if _, ok := p.Options.(*stat.Options); !ok {
				t.Errorf("panel %q: options decoded as %T, want *stat.Options", title, p.Options)
			}
		default:
			t.Errorf("panel %q: type %q, want timeseries or stat", title, p.Type)
		}
		if p.Datasource == nil || p.Datasource.Uid == nil || *p.Datasource.Uid != "${DS_PROMETHEUS}" {
			t.Errorf("panel %q: datasource %+v, want uid ${DS_PROMETHEUS}", title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no targets", title)
		}
		for _, tg := range p.Targets {
			q, ok := tg.(*prometheus.Dataquery)
			if !ok {
				t.Errorf("panel %q: target decoded as %T, want *prometheus.Dataquery", title, tg)
				continue
			}
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("panel %q target %v: empty expr", title, q.RefId)
			}
			targets++
		}
	}
	t.Logf("%d panels, %d Prometheus targets, %d variables decoded strictly", len(ps), targets, len(d.Templating.List))
}

// TestDashboardDecodingIsStrict shows that the decoding would catch a
// misspelt or mistyped field at each level.
func TestDashboardDecodingIsStrict(t *testing.T) {
	data := string(readDashboard(t))
	if _, _, err := decode(t, []byte(data)); err != nil {
		t.Fatalf("the shipped dashboard does not decode: %v", err)
	}
	tests := []struct{ name, old, new string }{
		{"dashboard field", `"graphTooltip"`, `"graphToolTip"`},
		{"panel field", `"gridPos"`, `"gridPosition"`},
		{"panel options", `"showLegend"`, `"showLegends"`},
		{"field config", `"lineWidth"`, `"linewidth"`},
		{"query", `"legendFormat"`, `"legend"`},
		{"variable", `"includeAll"`, `"includeall"`},
		{"type", `"schemaVersion": 38`, `"schemaVersion": "38"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(data, tt.old) {
				t.Fatalf("the dashboard has no %s", tt.old)
			}
			_, _, err := decode(t, []byte(strings.Replace(data, tt.old, tt.new, 1)))
			if err == nil {
				t.Errorf("replacing %s by %s: decoded without error", tt.old, tt.new)
			} else {
				t.Logf("replacing %s by %s: %v", tt.old, tt.new, err)
			}
		})
	}
}
