package main

import (
	"encoding/json"
	"html"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
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
     "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
     "panels": [
       {"type": "timeseries", "id": 4, "title": "Nested",
        "targets": [{"refId": "A", "expr": "process_resident_memory_bytes"}]}
     ]}
  ],
  "rows": [{"panels": [{"id": 5, "title": "Legacy", "datasource": "${DS_PROMETHEUS}",
                        "targets": [{"refId": "A", "expr": "up"}]}]}],
  "templating": {"list": [
    {"name": "DS_PROMETHEUS", "type": "datasource", "query": "prometheus"},
    {"name": "pool", "type": "query", "multi": true, "includeAll": true, "allValue": ".*",
     "query": {"query": "label_values(bufpool_gets_total, pool)", "refId": "X"}},
    {"name": "job", "type": "query", "definition": "label_values(up, job)", "query": "ignored"}
  ]}
}`

func TestParseDashboard(t *testing.T) {
	d, err := parseDashboard([]byte(testDashboard))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(d.Targets))
	for i, tg := range d.Targets {
		got[i] = tg.Panel + "/" + tg.RefID + " " + tg.DS + " " + tg.Expr
	}
	want := []string{
		`Hits/A ${DS_PROMETHEUS} sum(rate(bufpool_hits_total{pool=~"$pool"}[$__rate_interval]))`,
		`Hits/B other go_goroutines`,
		`Nested/A ${DS_PROMETHEUS} process_resident_memory_bytes`,
		`Legacy/A ${DS_PROMETHEUS} up`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("targets:\n got %q\nwant %q", got, want)
	}
	if d.Targets[0].Legend != "{{pool}}" {
		t.Errorf("legend %q", d.Targets[0].Legend)
	}
	vars := map[string]string{}
	for _, v := range d.Variables {
		vars[v.Name] = v.Type + " " + v.Query
	}
	wantVars := map[string]string{
		"DS_PROMETHEUS": "datasource prometheus",
		"pool":          "query label_values(bufpool_gets_total, pool)",
		"job":           "query label_values(up, job)",
	}
	if !reflect.DeepEqual(vars, wantVars) {
		t.Errorf("variables: got %v want %v", vars, wantVars)
	}
	if d.panels[1].Unit != "percentunit" {
		t.Errorf("unit %q", d.panels[1].Unit)
	}
}

func TestParseDashboardWrapped(t *testing.T) {
	d, err := parseDashboard([]byte(`{"dashboard": {"title": "w", "panels": [{"id": 1, "targets": [{"expr": "up"}]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if d.Title != "w" || len(d.Targets) != 1 || d.Targets[0].Expr != "up" {
		t.Errorf("got %+v", d)
	}
	if _, err := parseDashboard([]byte(`{`)); err == nil {
		t.Error("want an error for broken JSON")
	}
}

func TestSubstitute(t *testing.T) {
	vars := builtinVars(15*time.Second, 5*time.Second, 90*time.Second)
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
		{"interval_ms not interval", `x / $__interval_ms`, `x / 5000`, ""},
		{"range", `increase(x[$__range])`, `increase(x[90s])`, ""},
		{"range_s", `x / $__range_s`, `x / 90`, ""},
		{"range_ms", `x / $__range_ms`, `x / 90000`, ""},
		{"rate_interval_ms", `x / ${__rate_interval_ms}`, `x / 15000`, ""},
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

func TestPromDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{15 * time.Second, "15s"},
		{2 * time.Minute, "120s"},
		{1500 * time.Millisecond, "1500ms"},
	}
	for _, tt := range tests {
		if got := promDuration(tt.in); got != tt.want {
			t.Errorf("promDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseLabelValues(t *testing.T) {
	tests := []struct {
		in, sel, label string
		ok             bool
	}{
		{"label_values(bufpool_gets_total, pool)", "bufpool_gets_total", "pool", true},
		{" label_values( up{job=~\".*\"} , instance ) ", `up{job=~".*"}`, "instance", true},
		{"label_values(job)", "", "job", true},
		{"query_result(up)", "", "", false},
		{"metrics(bufpool_.*)", "", "", false},
	}
	for _, tt := range tests {
		sel, label, ok := parseLabelValues(tt.in)
		if sel != tt.sel || label != tt.label || ok != tt.ok {
			t.Errorf("parseLabelValues(%q) = %q, %q, %v; want %q, %q, %v", tt.in, sel, label, ok, tt.sel, tt.label, tt.ok)
		}
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"256MiB", 256 << 20, true},
		{"1GiB", 1 << 30, true},
		{"16 KiB", 16 << 10, true},
		{"1.5MB", 1500000, true},
		{"4096", 4096, true},
		{"10B", 10, true},
		{"-1", 0, false},
		{"lots", 0, false},
		{"MiB", 0, false},
	}
	for _, tt := range tests {
		got, err := parseBytes(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseTime(t *testing.T) {
	got, err := parseTime("1700000000.5")
	if err != nil || got.UnixMilli() != 1700000000500 {
		t.Errorf("parseTime unix = %v, %v", got, err)
	}
	got, err = parseTime("2023-11-14T22:13:20Z")
	if err != nil || got.Unix() != 1700000000 {
		t.Errorf("parseTime RFC 3339 = %v, %v", got, err)
	}
	if _, err := parseTime("yesterday"); err == nil {
		t.Error("want an error")
	}
}

func TestLint(t *testing.T) {
	good := `{"panels": [
	  {"type": "row", "id": 1, "title": "r"},
	  {"type": "timeseries", "id": 2, "title": "ok", "datasource": {"uid": "${DS_PROMETHEUS}"},
	   "targets": [{"refId": "A", "expr": "sum(rate(bufpool_gets_total{job=~\"$job\", instance=~\"$instance\", pool=~\"$pool\"}[$__rate_interval])) + go_goroutines{job=~\"$job\", instance=~\"$instance\"} + k6_vus"}]}],
	 "templating": {"list": [
	  {"name": "DS_PROMETHEUS", "type": "datasource", "query": "prometheus"},
	  {"name": "instance", "type": "query", "query": "label_values(up, instance)", "multi": true, "includeAll": true},
	  {"name": "pool", "type": "query", "query": "label_values(bufpool_gets_total, pool)", "multi": true, "includeAll": true}]}}`
	d, err := parseDashboard([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if probs := lint(d); len(probs) != 0 {
		t.Errorf("good dashboard: %q", probs)
	}

	bad := `{"panels": [
	  {"type": "timeseries", "id": 2, "title": "p", "datasource": {"uid": "prom1"},
	   "targets": [
	     {"refId": "A", "expr": "rate(bufpool_gets_total[5m])"},
	     {"refId": "B", "expr": "bufpool_idle_bytes{pool=\"sized\"}", "datasource": {"uid": "${DS_PROMETHEUS}"}}]},
	  {"type": "timeseries", "id": 2, "title": "dup", "datasource": {"uid": "${DS_PROMETHEUS}"}, "targets": []}],
	 "templating": {"list": [{"name": "pool", "type": "query", "query": "label_values(up, pool)"}]}}`
	d, err = parseDashboard([]byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	probs := strings.Join(lint(d), "\n")
	for _, want := range []string{
		`panel "p": datasource uid "prom1"`,
		`panel "p" target A: datasource uid "prom1"`,
		`fixed range [5m]`,
		`rate() without $__rate_interval`,
		`target A: bufpool_gets_total selected without pool=~"$pool"`,
		`target B: bufpool_idle_bytes selected without pool=~"$pool"`,
		`duplicate id 2`,
		`panel "dup": no PromQL target`,
		`want label_values(bufpool_gets_total, pool)`,
		`want multi-value with an All option`,
		`no datasource variable DS_PROMETHEUS`,
		`no instance variable`,
	} {
		if !strings.Contains(probs, want) {
			t.Errorf("lint output lacks %q:\n%s", want, probs)
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

// TestShippedDashboard lints the dashboard of this folder and substitutes
// every one of its expressions with the variables e2e.sh uses.
func TestShippedDashboard(t *testing.T) {
	d, data := shippedDashboard(t)
	if probs := lint(d); len(probs) != 0 {
		t.Errorf("lint: %q", probs)
	}
	if len(d.Targets) < 15 {
		t.Errorf("only %d targets", len(d.Targets))
	}
	vars := builtinVars(15*time.Second, 5*time.Second, time.Minute)
	vars["pool"], vars["job"], vars["instance"] = "sized", ".*", ".*"
	for _, tg := range d.Targets {
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
	if _, ok := describe(nil); ok {
		t.Error("empty result passed")
	}
	if msg, ok := describe([]sample{{Value: math.NaN()}}); ok || !strings.Contains(msg, "NaN") {
		t.Errorf("all-NaN result: %q %v", msg, ok)
	}
	if _, ok := describe([]sample{{Value: math.NaN()}, {Value: 1}}); !ok {
		t.Error("result with a number failed")
	}
}

// TestQueryAgainstFakeAPI checks the decoding of the Prometheus API answers
// and of its errors with a stand-in server.
func TestQueryAgainstFakeAPI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.FormValue("query") // the client POSTs queries as a form
		switch {
		case r.URL.Path == "/api/v1/label/pool/values":
			if r.FormValue("match[]") != "bufpool_gets_total" {
				t.Errorf("match[] = %q", r.FormValue("match[]"))
			}
			w.Write([]byte(`{"status":"success","data":["sized"]}`))
		case q == "bad(":
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"parse error"}`))
		case q == "scalar(1)":
			w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`))
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
	c, err := newClient(srv.URL, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	at := time.Unix(1700000000, 0)
	typ, s, err := c.query(ctx, "x", at)
	if err != nil || typ != "vector" || len(s) != 2 || s[0].Value != 0.5 || s[0].Metric["pool"] != "sized" || !math.IsNaN(s[1].Value) {
		t.Errorf("vector: %v %v %v", typ, s, err)
	}
	if _, _, err := c.query(ctx, "bad(", at); err == nil || !strings.Contains(err.Error(), "parse error") {
		t.Errorf("bad query: %v", err)
	}
	if typ, s, err := c.query(ctx, "scalar(1)", at); err != nil || typ != "scalar" || len(s) != 1 || s[0].Value != 1 {
		t.Errorf("scalar: %v %v %v", typ, s, err)
	}
	vals, err := c.labelValues(ctx, "bufpool_gets_total", "pool", time.Time{}, time.Time{})
	if err != nil || !reflect.DeepEqual(vals, []string{"sized"}) {
		t.Errorf("label values: %v %v", vals, err)
	}
}

func TestLegend(t *testing.T) {
	m := map[string]string{"pool": "sized", "class": "16384"}
	if got := legend("{{pool}} {{ class }}", m); got != "sized 16384" {
		t.Errorf("legend = %q", got)
	}
	if got := legend("", m); got != `{class="16384",pool="sized"}` {
		t.Errorf("auto legend = %q", got)
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
	data, err := os.ReadFile("../../../dashboard/bodypool.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := parseDashboard(data)
	if err != nil {
		t.Fatal(err)
	}
	vars := builtinVars(15*time.Second, 5*time.Second, time.Minute)
	vars["pool"], vars["job"], vars["instance"] = "sized", ".*", ".*"
	out := t.TempDir() + "/p.svg"
	c, err := newClient(srv.URL, 10*time.Second)
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

func TestFmtUnit(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{0.5, "percentunit", "50.0%"},
		{3 << 20, "bytes", "3.0MiB"},
		{2048, "binBps", "2.0KiB/s"},
		{0.0004, "s", "400µs"},
		{1500, "ops", "1.5k/s"},
		{math.NaN(), "short", "NaN"},
	}
	for _, tt := range tests {
		if got := fmtUnit(tt.v, tt.unit); got != tt.want {
			t.Errorf("fmtUnit(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}
