package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

const testDashboard = `{
  "title": "t",
  "panels": [
    {"type": "row", "id": 1, "title": "Row", "panels": []},
    {"type": "timeseries", "id": 2, "title": "Hits",
     "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
     "fieldConfig": {"defaults": {"unit": "percentunit"}},
     "targets": [
       {"refId": "A", "expr": "sum(rate(bufpool_hits_total{pool=~\"$pool\"}[$__rate_interval]))", "legendFormat": "{{pool}}"},
       {"refId": "B", "expr": "go_goroutines", "datasource": {"type": "prometheus", "uid": "other"}},
       {"refId": "C", "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}}
     ]},
    {"type": "row", "id": 3, "title": "Collapsed", "collapsed": true,
     "panels": [
       {"type": "timeseries", "id": 4, "title": "Nested", "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
        "targets": [{"refId": "A", "expr": "process_resident_memory_bytes"}]}
     ]}
  ],
  "templating": {"list": [
    {"name": "DS_PROMETHEUS", "type": "datasource", "query": "prometheus"},
    {"name": "pool", "type": "query", "multi": true, "includeAll": true, "allValue": ".*",
     "definition": "label_values(bufpool_gets_total, pool)",
     "query": {"query": "label_values(bufpool_gets_total, pool)", "refId": "X"}},
    {"name": "job", "type": "query", "definition": "label_values(up, job)", "query": "ignored"},
    {"name": "instance", "type": "query", "definition": "label_values(up, instance)"},
    {"name": "old", "type": "query", "query": "label_values(up, old)"}
  ]}
}`

func TestParseDashboard(t *testing.T) {
	d, err := parseDashboard([]byte(testDashboard))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(d.targets))
	for i, tg := range d.targets {
		got[i] = tg.Panel + "/" + tg.RefID + " " + tg.Expr
	}
	want := []string{
		`Hits/A sum(rate(bufpool_hits_total{pool=~"$pool"}[$__rate_interval]))`,
		`Hits/B go_goroutines`,
		`Nested/A process_resident_memory_bytes`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("targets:\n got %q\nwant %q", got, want)
	}
	if d.targets[0].LegendFormat != "{{pool}}" {
		t.Errorf("legend %q", d.targets[0].LegendFormat)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type + " " + v.Definition
	}
	wantVars := map[string]string{
		"DS_PROMETHEUS": "datasource ",
		"pool":          "query label_values(bufpool_gets_total, pool)",
		"job":           "query label_values(up, job)",
		"instance":      "query label_values(up, instance)",
		"old":           "query ", // no definition: promcheck reports it as not label_values()
	}
	if !reflect.DeepEqual(vars, wantVars) {
		t.Errorf("variables: got %v want %v", vars, wantVars)
	}
	var titles []string
	for _, p := range d.panels {
		titles = append(titles, p.Title)
	}
	if want := []string{"Row", "Hits", "Collapsed", "Nested"}; !reflect.DeepEqual(titles, want) {
		t.Errorf("panels %q, want %q", titles, want)
	}
	if d.panels[1].FieldConfig.Defaults.Unit != "percentunit" {
		t.Errorf("unit %q", d.panels[1].FieldConfig.Defaults.Unit)
	}
}

func TestParseDashboardBroken(t *testing.T) {
	for _, data := range []string{`{`, `{"panels": [{"targets": "a string, not a list"}]}`} {
		if _, err := parseDashboard([]byte(data)); err == nil {
			t.Errorf("%s: want an error", data)
		}
	}
}

func TestSubstitute(t *testing.T) {
	vars := builtinVars(90 * time.Second)
	vars["pool"] = "sized"
	vars["job"] = ".*"
	tests := []struct {
		name, in, want, err string
	}{
		{"plain", `up`, `up`, ""},
		{"dollar", `rate(x{pool=~"$pool"}[$__rate_interval])`, `rate(x{pool=~"sized"}[15s])`, ""},
		{"braces", `x{pool=~"${pool}"}`, `x{pool=~"sized"}`, ""},
		{"format", `x{pool=~"${pool:regex}"}`, `x{pool=~"sized"}`, ""},
		{"brackets", `x{job=~"[[job]]"}`, `x{job=~".*"}`, ""},
		{"interval", `avg_over_time(x[$__interval])`, `avg_over_time(x[5s])`, ""},
		{"range", `increase(x[$__range])`, `increase(x[1m30s])`, ""},
		{"interval_ms is not interval", `x / $__interval_ms`, `x / $__interval_ms`, "__interval_ms"},
		{"several", `a{pool=~"$pool",job=~"$job"}[$__rate_interval] / b{pool=~"$pool"}`, `a{pool=~"sized",job=~".*"}[15s] / b{pool=~"sized"}`, ""},
		{"label_replace keeps $1", `label_replace(up, "a", "$1", "job", "(.*)")`, `label_replace(up, "a", "$1", "job", "(.*)")`, ""},
		{"regex anchor", `up{job=~"^a$"}`, `up{job=~"^a$"}`, ""},
		{"unknown", `x{a="$nope"}[$__rate_interval]`, `x{a="$nope"}[15s]`, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := substitute(tt.in, vars)
			if got != tt.want {
				t.Errorf("substitute(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if tt.err == "" && err != nil {
				t.Errorf("unexpected error %v", err)
			}
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("error %v, want one naming %q", err, tt.err)
			}
		})
	}
}

// TestLabelValues checks how label_values() queries are substituted,
// parsed and asked of a stand-in API, which answers with the label name and
// the match[] selectors it was given.
func TestLabelValues(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		label := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/label/"), "/values")
		r.ParseForm()
		vals, _ := json.Marshal(append([]string{label}, r.Form["match[]"]...))
		if label == "empty" {
			vals = []byte("[]")
		}
		fmt.Fprintf(w, `{"status":"success","data":%s}`, vals)
	}))
	defer srv.Close()
	c, err := newClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"job": "demo"}
	tests := []struct{ in, want, err string }{
		{"label_values(bufpool_gets_total, pool)", "[pool bufpool_gets_total]", ""},
		{` label_values( up{job=~"$job"} , instance ) `, `[instance up{job=~"demo"}]`, ""},
		{"label_values(job)", "[job]", ""},
		{"label_values(empty)", "", "label_values(empty): no values"},
		{"query_result(up)", "", "query_result(up): not a label_values() query"},
		{"metrics(bufpool_.*)", "", "not a label_values() query"},
		{"label_values(up{job=~\"$nope\"}, job)", "", "no value for variable(s) nope"},
	}
	for _, tt := range tests {
		vals, err := c.labelValues(t.Context(), tt.in, vars, time.Time{}, time.Time{})
		if got := fmt.Sprint(vals); tt.err == "" && (err != nil || got != tt.want) {
			t.Errorf("labelValues(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
		if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("labelValues(%q): error %v, want one with %q", tt.in, err, tt.err)
		}
	}
}

func TestUnixFlag(t *testing.T) {
	tests := []struct {
		in     string
		wantMs int64
		ok     bool
	}{
		{"1700000000.5", 1700000000500, true},
		{"1700000000", 1700000000000, true},
		{"2023-11-14T22:13:20Z", 0, false},
		{"yesterday", 0, false},
	}
	for _, tt := range tests {
		var got time.Time
		err := unixFlag(&got)(tt.in)
		if (err == nil) != tt.ok || tt.ok && got.UnixMilli() != tt.wantMs {
			t.Errorf("unixFlag(%q) = %v, %v; want %d ms, ok %v", tt.in, got, err, tt.wantMs, tt.ok)
		}
	}
}

// shippedDashboard parses the dashboard of the repository, and returns it
// with its JSON.
func shippedDashboard(t *testing.T) (*dashboard, []byte) {
	t.Helper()
	data, err := os.ReadFile("../../../dashboard/bodypool.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := parseDashboard(data)
	if err != nil {
		t.Fatal(err)
	}
	return d, data
}

// TestShippedDashboard substitutes every expression of the repository's
// dashboard with the variables e2e.sh uses.
func TestShippedDashboard(t *testing.T) {
	d, data := shippedDashboard(t)
	if len(d.targets) < 15 {
		t.Errorf("only %d targets", len(d.targets))
	}
	vars := builtinVars(time.Minute)
	vars["pool"], vars["job"], vars["instance"] = "sized", ".*", ".*"
	for _, tg := range d.targets {
		q, err := substitute(tg.Expr, vars)
		if err != nil {
			t.Errorf("%s/%s: %v", tg.Panel, tg.RefID, err)
		}
		if strings.Contains(q, "$") {
			t.Errorf("%s/%s: unsubstituted variable left in %q", tg.Panel, tg.RefID, q)
		}
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if sv, _ := raw["schemaVersion"].(float64); sv < 38 {
		t.Errorf("schemaVersion %v, want >= 38 (Grafana 10)", sv)
	}
}

func TestDescribe(t *testing.T) {
	nan := &model.Sample{Metric: model.Metric{}, Value: model.SampleValue(math.NaN())}
	one := &model.Sample{Metric: model.Metric{"pool": "sized"}, Value: 1}
	tests := []struct {
		name   string
		v      model.Vector
		err    error
		ok     bool
		detail string
	}{
		{"empty", nil, nil, false, "empty result"},
		{"all NaN", model.Vector{nan}, nil, false, "1 series, all NaN"},
		{"one number", model.Vector{nan, one}, nil, true, "2 series (1 not NaN)"},
		{"error", nil, errors.New("bad_data: parse error"), false, "bad_data: parse error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			detail, ok := describe(tt.v, tt.err)
			if ok != tt.ok || !strings.Contains(detail, tt.detail) {
				t.Errorf("describe = %q, %v; want %v and %q", detail, ok, tt.ok, tt.detail)
			}
		})
	}
}

// TestQueryAgainstFakeAPI checks the decoding of the Prometheus API's
// answers to queries and of its errors with a stand-in server.
func TestQueryAgainstFakeAPI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.FormValue("query") // the client POSTs queries as a form
		switch {
		case q == "bad(":
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"parse error"}`))
		case q == "scalar(1)":
			w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`))
		case q == "x[1m]":
			w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
		default:
			if r.FormValue("time") != "1700000000" {
				t.Errorf("time = %q", r.FormValue("time"))
			}
			w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[
			  {"metric":{"pool":"sized"},"value":[1700000000,"0.5"]},
			  {"metric":{"pool":"none"},"value":[1700000000,"NaN"]}]}}`))
		}
	}))
	defer srv.Close()
	c, err := newClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	at := time.Unix(1700000000, 0)
	v, err := c.query(ctx, "x", nil, at)
	if err != nil || len(v) != 2 || v[0].Value != 0.5 || v[0].Metric["pool"] != "sized" || !math.IsNaN(float64(v[1].Value)) {
		t.Errorf("vector: %v %v", v, err)
	}
	if _, err := c.query(ctx, "bad(", nil, at); err == nil || !strings.Contains(err.Error(), "parse error") {
		t.Errorf("bad query: %v", err)
	}
	if v, err := c.query(ctx, "scalar(1)", nil, at); err != nil || len(v) != 1 || v[0].Value != 1 {
		t.Errorf("scalar: %v %v", v, err)
	}
	if _, err := c.query(ctx, "x[1m]", nil, at); err == nil || !strings.Contains(err.Error(), "matrix") {
		t.Errorf("matrix: %v", err)
	}
	if _, err := c.query(ctx, "x{a=\"$nope\"}", nil, at); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown variable: %v", err)
	}
}

func TestLegend(t *testing.T) {
	m := model.Metric{"pool": "sized", "class": "16384"}
	tests := []struct{ format, want string }{
		{"{{pool}} {{ class }}", "sized 16384"},
		{"{{pool}} {{missing}}", "sized "},
		{"", `{class="16384", pool="sized"}`},
		{"__auto", `{class="16384", pool="sized"}`},
	}
	for _, tt := range tests {
		if got := legend(tt.format, m); got != tt.want {
			t.Errorf("legend(%q) = %q, want %q", tt.format, got, tt.want)
		}
	}
}

// TestRenderSVG draws the shipped dashboard from a stand-in query_range
// answer and checks that every panel is in the picture.
func TestRenderSVG(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query_range" {
			t.Errorf("path %s", r.URL.Path)
		}
		w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[
		  {"metric":{"pool":"sized","class":"16384"},"values":[[1700000000,"0.5"],[1700000001,"NaN"],[1700000002,"1"]]},
		  {"metric":{"pool":"sized","class":"512"},"values":[[1700000000,"NaN"]]}]}}`))
	}))
	defer srv.Close()
	d, _ := shippedDashboard(t)
	vars := builtinVars(time.Minute)
	vars["pool"], vars["job"], vars["instance"] = "sized", ".*", ".*"
	out := t.TempDir() + "/p.svg"
	c, err := newClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := renderSVG(t.Context(), c, d, vars, time.Unix(1700000000, 0), time.Unix(1700000002, 0), out); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range d.panels {
		if p.Type != "row" && !strings.Contains(string(svg), ">"+html.EscapeString(p.Title)+"<") {
			t.Errorf("panel %q missing from the SVG", p.Title)
		}
	}
	if strings.Contains(string(svg), `class=\"512\"`) || strings.Contains(string(svg), "NaN)") {
		t.Error("an all-NaN series made it into a legend")
	}
}
