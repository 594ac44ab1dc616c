// Command promcheck checks the bodypool Grafana dashboard against a running
// Prometheus that has scraped the demo server.
//
// It reads the dashboard JSON, lints it (every panel and target uses the
// datasource variable, rate windows use $__rate_interval, selectors of pool
// metrics filter on pool=~"$pool", panel ids are unique), takes the PromQL
// expression of every panel target, substitutes the Grafana template
// variables, and evaluates each through Prometheus's HTTP API
// (/api/v1/query) at one instant. An expression passes when Prometheus
// accepts it and returns at least one sample that is not NaN. The query of
// each label_values() template variable is checked through
// /api/v1/label/<name>/values.
//
// It then asserts two properties of the run:
//
//   - the steady-state hit ratio of one size class of one pool (by default
//     the class of the sized pool that served the most gets in the window)
//     is at least -min-hit-ratio (default 0.95), measured from -from plus
//     -warmup to -to;
//   - the Go heap of the scraped process (the maximum of
//     go_memstats_heap_inuse_bytes from -from to -to) stays below -heap-max
//     (default 256MiB).
//
// It prints one OK or FAIL line per check and a summary, and exits 1 when
// any check failed, 2 on a usage or setup error.
//
// Usage:
//
//	promcheck -prom http://127.0.0.1:9090 -dashboard dashboard/bodypool.json \
//	    -var pool=sized -from 1700000000 -to 1700000025
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
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
		for _, m := range bufpoolMetricRe.FindAllStringSubmatch(t.Expr, -1) {
			if !strings.HasPrefix(m[1], "bufpool_http_") && !strings.Contains(m[2], `pool=~"$pool"`) {
				probs = append(probs, fmt.Sprintf("%s: %s selected without pool=~\"$pool\"", where, m[1]))
			}
		}
	}
	var haveDS, havePool bool
	for _, v := range d.Variables {
		switch v.Name {
		case dsVariable:
			haveDS = true
			if v.Type != "datasource" || v.Query != "prometheus" {
				probs = append(probs, fmt.Sprintf("variable %s: type %q query %q, want datasource/prometheus", v.Name, v.Type, v.Query))
			}
		case "pool":
			havePool = true
			if v.Type != "query" || !strings.Contains(v.Query, "label_values(bufpool_gets_total, pool)") {
				probs = append(probs, fmt.Sprintf("variable pool: type %q query %q, want label_values(bufpool_gets_total, pool)", v.Type, v.Query))
			}
			if !v.Multi || !v.IncludeAll {
				probs = append(probs, "variable pool: want multi-value with an All option")
			}
		}
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

// byteSize is a flag value holding a number of bytes, written as a plain
// number or with a unit (KiB, MiB, GiB, KB, MB, GB, B).
type byteSize int64

func (b *byteSize) String() string { return formatBytes(float64(*b)) }

func (b *byteSize) Set(s string) error {
	v, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b = byteSize(v)
	return nil
}

func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("invalid byte size %q", s)
	}
	return int64(f * float64(mult)), nil
}

func formatBytes(f float64) string {
	switch {
	case f >= 1<<30:
		return fmt.Sprintf("%.1fGiB", f/(1<<30))
	case f >= 1<<20:
		return fmt.Sprintf("%.1fMiB", f/(1<<20))
	case f >= 1<<10:
		return fmt.Sprintf("%.1fKiB", f/(1<<10))
	}
	return fmt.Sprintf("%.0fB", f)
}

// varFlags collects repeated -var name=value flags.
type varFlags map[string]string

func (v varFlags) String() string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k+"="+v[k])
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (v varFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	v[name] = value
	return nil
}

// timeFlag is a point in time given as Unix seconds or RFC 3339.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	t, err := parseTime(s)
	if err != nil {
		return err
	}
	f.t = t
	return nil
}

func parseTime(s string) (time.Time, error) {
	if sec, err := strconv.ParseFloat(s, 64); err == nil {
		whole, frac := math.Modf(sec)
		return time.Unix(int64(whole), int64(frac*1e9)), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want Unix seconds or RFC 3339, got %q", s)
	}
	return t, nil
}

// promTime formats t for the time parameter of the Prometheus API.
func promTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// client queries the Prometheus HTTP API.
type client struct {
	base string
	http *http.Client
}

type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

// sample is one series of a query result; Value is its value, NaN when
// Prometheus returned NaN.
type sample struct {
	Metric map[string]string
	Value  float64
}

func (c *client) get(ctx context.Context, path string, params url.Values) (json.RawMessage, error) {
	u := strings.TrimRight(c.base, "/") + path + "?" + params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	return r.Data, nil
}

// query evaluates an instant query at time at.
func (c *client) query(ctx context.Context, q string, at time.Time) (string, []sample, error) {
	params := url.Values{"query": {q}}
	if !at.IsZero() {
		params.Set("time", promTime(at))
	}
	data, err := c.get(ctx, "/api/v1/query", params)
	if err != nil {
		return "", nil, err
	}
	return decodeResult(data)
}

func decodeResult(data json.RawMessage) (string, []sample, error) {
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return "", nil, err
	}
	switch d.ResultType {
	case "vector":
		var vs []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(d.Result, &vs); err != nil {
			return d.ResultType, nil, err
		}
		out := make([]sample, len(vs))
		for i, v := range vs {
			out[i] = sample{Metric: v.Metric, Value: pointValue(v.Value)}
		}
		return d.ResultType, out, nil
	case "matrix":
		var ms []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		}
		if err := json.Unmarshal(d.Result, &ms); err != nil {
			return d.ResultType, nil, err
		}
		out := make([]sample, 0, len(ms))
		for _, m := range ms {
			if len(m.Values) > 0 {
				out = append(out, sample{Metric: m.Metric, Value: pointValue(m.Values[len(m.Values)-1])})
			}
		}
		return d.ResultType, out, nil
	case "scalar", "string":
		var p [2]any
		if err := json.Unmarshal(d.Result, &p); err != nil {
			return d.ResultType, nil, err
		}
		return d.ResultType, []sample{{Value: pointValue(p)}}, nil
	}
	return d.ResultType, nil, fmt.Errorf("unknown result type %q", d.ResultType)
}

func pointValue(p [2]any) float64 {
	s, _ := p[1].(string)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// labelValues lists the values of label on the series matching selector.
func (c *client) labelValues(ctx context.Context, selector, label string, start, end time.Time) ([]string, error) {
	params := url.Values{}
	if selector != "" {
		params.Set("match[]", selector)
	}
	if !start.IsZero() {
		params.Set("start", promTime(start))
		params.Set("end", promTime(end))
	}
	data, err := c.get(ctx, "/api/v1/label/"+url.PathEscape(label)+"/values", params)
	if err != nil {
		return nil, err
	}
	var vals []string
	err = json.Unmarshal(data, &vals)
	return vals, err
}

// describe summarises a result for a report line.
func describe(samples []sample) (string, bool) {
	if len(samples) == 0 {
		return "empty result", false
	}
	finite := 0
	for _, s := range samples {
		if !math.IsNaN(s.Value) {
			finite++
		}
	}
	if finite == 0 {
		return fmt.Sprintf("%d series, all NaN", len(samples)), false
	}
	return fmt.Sprintf("%d series (%d not NaN), e.g. %s = %s", len(samples), finite, seriesName(samples[0].Metric), fmtValue(samples[0].Value)), true
}

func seriesName(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if k == "job" || k == "instance" || k == "__name__" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(m[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func fmtValue(f float64) string {
	return strconv.FormatFloat(f, 'g', 4, 64)
}

type report struct {
	ok, failed int
	failures   []string
}

func (r *report) line(ok bool, what, detail string) {
	status := "OK  "
	if ok {
		r.ok++
	} else {
		status = "FAIL"
		r.failed++
		r.failures = append(r.failures, what+": "+detail)
	}
	fmt.Printf("%s %s: %s\n", status, what, detail)
}

type config struct {
	prom          string
	dashboardPath string
	vars          varFlags
	rateInterval  time.Duration
	interval      time.Duration
	from, to      timeFlag
	warmup        time.Duration
	allowNaN      bool
	pool          string
	class         string
	minHitRatio   float64
	minGets       float64
	heapMax       byteSize
	heapQuery     string
	timeout       time.Duration
	svg           string
}

func main() {
	cfg := config{vars: varFlags{"pool": ".*", "job": ".*"}, heapMax: 256 << 20}
	fs := flag.NewFlagSet("promcheck", flag.ExitOnError)
	fs.StringVar(&cfg.prom, "prom", "http://127.0.0.1:9090", "base URL of the Prometheus HTTP API")
	fs.StringVar(&cfg.dashboardPath, "dashboard", "dashboard/bodypool.json", "Grafana dashboard JSON file")
	fs.Var(cfg.vars, "var", "template variable value as name=value (repeatable; defaults pool=.* and job=.*)")
	fs.DurationVar(&cfg.rateInterval, "rate-interval", 15*time.Second, "value of $__rate_interval")
	fs.DurationVar(&cfg.interval, "interval", 5*time.Second, "value of $__interval")
	fs.Var(&cfg.from, "from", "start of the load run, Unix seconds or RFC 3339 (default: -to minus 2m); $__range is -to minus -from")
	fs.Var(&cfg.to, "to", "end of the load run and the evaluation time of every query (default: now)")
	fs.DurationVar(&cfg.warmup, "warmup", 5*time.Second, "part of the run after -from left out of the hit-ratio window")
	fs.BoolVar(&cfg.allowNaN, "allow-nan", false, "accept a dashboard expression whose every sample is NaN")
	fs.StringVar(&cfg.pool, "pool", "sized", "pool label value whose hit ratio is asserted (empty: skip the assertion)")
	fs.StringVar(&cfg.class, "class", "auto", `class label value whose hit ratio is asserted; "auto" takes the class with the most gets in the window`)
	fs.Float64Var(&cfg.minHitRatio, "min-hit-ratio", 0.95, "lowest accepted steady-state hit ratio")
	fs.Float64Var(&cfg.minGets, "min-gets", 500, "fewest gets of the class in the window for the hit ratio to count")
	fs.Var(&cfg.heapMax, "heap-max", "bound on go_memstats_heap_inuse_bytes over the run (0: skip the assertion)")
	fs.StringVar(&cfg.heapQuery, "heap-query", `max(max_over_time(go_memstats_heap_inuse_bytes{job=~"$job"}[$__range]))`, "query whose value is compared with -heap-max")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "timeout of each HTTP request")
	fs.StringVar(&cfg.svg, "svg", "", "also write an SVG chart of every panel over -from..-to, from query_range results, to this file")
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "promcheck: unexpected arguments %q\n", fs.Args())
		os.Exit(2)
	}
	code, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "promcheck:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func run(cfg config) (int, error) {
	data, err := os.ReadFile(cfg.dashboardPath)
	if err != nil {
		return 0, err
	}
	d, err := parseDashboard(data)
	if err != nil {
		return 0, err
	}
	if cfg.to.t.IsZero() {
		cfg.to.t = time.Now()
	}
	if cfg.from.t.IsZero() {
		cfg.from.t = cfg.to.t.Add(-2 * time.Minute)
	}
	rng := cfg.to.t.Sub(cfg.from.t).Truncate(time.Second)
	if rng < time.Second {
		return 0, errors.New("-from must be at least a second before -to")
	}
	vars := builtinVars(cfg.rateInterval, cfg.interval, rng)
	for k, v := range cfg.vars {
		vars[k] = v
	}
	c := &client{base: cfg.prom, http: &http.Client{Timeout: cfg.timeout}}
	ctx := context.Background()
	var r report

	fmt.Printf("promcheck: dashboard %q (%s), %d targets; Prometheus %s; evaluated at %s; run %s; vars %s\n",
		d.Title, cfg.dashboardPath, len(d.Targets), cfg.prom, cfg.to.t.UTC().Format(time.RFC3339), rng, cfg.vars)

	fmt.Println("== dashboard lint")
	probs := lint(d)
	if len(probs) == 0 {
		r.line(true, "lint", fmt.Sprintf("%d panels, %d targets, %d variables", len(d.panels), len(d.Targets), len(d.Variables)))
	}
	for _, p := range probs {
		r.line(false, "lint", p)
	}

	fmt.Println("== template variables")
	for _, v := range d.Variables {
		if v.Type != "query" {
			continue
		}
		what := "variable " + v.Name
		q, err := substitute(v.Query, vars)
		if err != nil {
			r.line(false, what, err.Error())
			continue
		}
		sel, label, ok := parseLabelValues(q)
		if !ok {
			r.line(false, what, "not a label_values() query: "+q)
			continue
		}
		vals, err := c.labelValues(ctx, sel, label, cfg.from.t, cfg.to.t)
		switch {
		case err != nil:
			r.line(false, what, q+": "+err.Error())
		case len(vals) == 0:
			r.line(false, what, q+": no values")
		default:
			r.line(true, what, fmt.Sprintf("%s -> %s", q, strings.Join(vals, ", ")))
		}
	}

	fmt.Println("== panel expressions")
	for _, t := range d.Targets {
		what := fmt.Sprintf("[%s/%s] %s", t.Panel, t.RefID, t.Expr)
		q, err := substitute(t.Expr, vars)
		if err != nil {
			r.line(false, what, err.Error())
			continue
		}
		_, samples, err := c.query(ctx, q, cfg.to.t)
		if err != nil {
			r.line(false, what, err.Error())
			continue
		}
		detail, ok := describe(samples)
		if !ok && cfg.allowNaN && len(samples) > 0 {
			ok = true
		}
		r.line(ok, what, detail)
	}

	fmt.Println("== run assertions")
	var summary []string
	if cfg.pool != "" {
		s := checkHitRatio(ctx, c, cfg, &r)
		summary = append(summary, s)
	}
	if cfg.heapMax > 0 {
		s := checkHeap(ctx, c, cfg, vars, &r)
		summary = append(summary, s)
	}

	if cfg.svg != "" {
		if err := renderSVG(ctx, c, d, vars, cfg.from.t, cfg.to.t, cfg.svg); err != nil {
			r.line(false, "svg", err.Error())
		} else {
			fmt.Printf("wrote %s\n", cfg.svg)
		}
	}

	fmt.Println("== summary")
	for _, s := range summary {
		fmt.Println(s)
	}
	fmt.Printf("%d passed, %d failed\n", r.ok, r.failed)
	if r.failed > 0 {
		for _, f := range r.failures {
			fmt.Println("  FAILED", f)
		}
		return 1, nil
	}
	return 0, nil
}

func scalarQuery(ctx context.Context, c *client, q string, at time.Time) (float64, map[string]string, error) {
	_, samples, err := c.query(ctx, q, at)
	if err != nil {
		return 0, nil, err
	}
	if len(samples) == 0 {
		return 0, nil, fmt.Errorf("empty result for %s", q)
	}
	return samples[0].Value, samples[0].Metric, nil
}

// checkHitRatio asserts the steady-state hit ratio of one class of one pool.
func checkHitRatio(ctx context.Context, c *client, cfg config, r *report) string {
	start := cfg.from.t.Add(cfg.warmup)
	window := cfg.to.t.Sub(start).Truncate(time.Second)
	what := fmt.Sprintf("hit ratio pool=%s", cfg.pool)
	if window < 2*time.Second {
		r.line(false, what, fmt.Sprintf("steady window %s too short (run %s, warmup %s)", window, cfg.to.t.Sub(cfg.from.t), cfg.warmup))
		return what + ": not measured"
	}
	w := promDuration(window)
	class := cfg.class
	if class == "auto" {
		q := fmt.Sprintf(`topk(1, sum by (class) (increase(bufpool_gets_total{pool=%s,class!="+Inf"}[%s])))`, strconv.Quote(cfg.pool), w)
		_, m, err := scalarQuery(ctx, c, q, cfg.to.t)
		if err != nil {
			r.line(false, what, "finding the busiest class: "+err.Error())
			return what + ": not measured"
		}
		class = m["class"]
	}
	what += " class=" + class
	sel := fmt.Sprintf(`{pool=%s,class=%s}`, strconv.Quote(cfg.pool), strconv.Quote(class))
	gets, _, err := scalarQuery(ctx, c, fmt.Sprintf(`sum(increase(bufpool_gets_total%s[%s]))`, sel, w), cfg.to.t)
	if err != nil {
		r.line(false, what, err.Error())
		return what + ": not measured"
	}
	hits, _, err := scalarQuery(ctx, c, fmt.Sprintf(`sum(increase(bufpool_hits_total%s[%s]))`, sel, w), cfg.to.t)
	if err != nil {
		r.line(false, what, err.Error())
		return what + ": not measured"
	}
	ratio := math.NaN()
	if gets > 0 {
		ratio = hits / gets
	}
	detail := fmt.Sprintf("%.4f over %s after a %s warm-up (%.0f hits / %.0f gets; want >= %.2f with >= %.0f gets)",
		ratio, w, cfg.warmup, hits, gets, cfg.minHitRatio, cfg.minGets)
	ok := gets >= cfg.minGets && ratio >= cfg.minHitRatio
	r.line(ok, what, detail)
	return what + " = " + detail
}

// checkHeap asserts the bound on the heap of the scraped process.
func checkHeap(ctx context.Context, c *client, cfg config, vars map[string]string, r *report) string {
	what := "max heap in use"
	q, err := substitute(cfg.heapQuery, vars)
	if err != nil {
		r.line(false, what, err.Error())
		return what + ": not measured"
	}
	v, _, err := scalarQuery(ctx, c, q, cfg.to.t)
	if err != nil {
		r.line(false, what, err.Error())
		return what + ": not measured"
	}
	detail := fmt.Sprintf("%s (%.0f bytes) from %s; bound %s", formatBytes(v), v, q, formatBytes(float64(cfg.heapMax)))
	r.line(!math.IsNaN(v) && v < float64(cfg.heapMax), what, detail)
	return what + " = " + detail
}
