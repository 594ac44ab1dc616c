//lint:file-ignore SA1019 the classic dashboard model, as in decode_test.go.

package dashboard

import (
	"cmp"
	"fmt"
	"regexp"
	"strings"
	"testing"

	sdk "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// dsRef is how every panel and target names the dashboard's datasource: the
// DS_PROMETHEUS template variable, so that one import serves any Prometheus.
const dsRef = "${DS_PROMETHEUS}"

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
	// poolQueryRe is the query of the pool variable.
	poolQueryRe = regexp.MustCompile(`^label_values\(bufpool_gets_total\b.*,\s*pool\)$`)
)

// deref returns *p, or the zero value when p is nil.
func deref[T any](p *T) T {
	var v T
	if p != nil {
		v = *p
	}
	return v
}

// lint checks what the project promises of the dashboard beyond its schema
// and beyond TestDashboardDecodesStrictly, and returns one message per
// problem: panel ids (rows' included) are unique; every target uses
// ${DS_PROMETHEUS}, its own or its panel's; every range is a Grafana
// interval variable and every rate() uses $__rate_interval; every bufpool_,
// go_ and process_ selector filters on job=~"$job" and
// instance=~"$instance", and every pool metric on pool=~"$pool"; the
// DS_PROMETHEUS variable is a datasource variable for prometheus, and pool
// is label_values(bufpool_gets_total..., pool).
func lint(d *sdk.Dashboard) []string {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	seen := map[uint32]string{}
	checkID := func(id uint32, title string) {
		if other, dup := seen[id]; dup {
			bad("panels %q and %q: duplicate id %d", other, title, id)
		}
		seen[id] = title
	}
	var panels []sdk.Panel
	for _, p := range d.Panels {
		if r := p.RowPanel; r != nil {
			checkID(r.Id, deref(r.Title))
			panels = append(panels, r.Panels...)
		} else if p.Panel != nil {
			panels = append(panels, *p.Panel)
		}
	}
	for _, p := range panels {
		checkID(deref(p.Id), deref(p.Title))
		for _, tg := range p.Targets {
			q, ok := tg.(*prometheus.Dataquery)
			if !ok {
				continue // TestDashboardDecodesStrictly reports it
			}
			where := fmt.Sprintf("panel %q target %s", deref(p.Title), deref(q.RefId))
			if uid := deref(deref(cmp.Or(q.Datasource, p.Datasource)).Uid); uid != dsRef {
				bad("%s: datasource uid %q, want %q", where, uid, dsRef)
			}
			for _, m := range rangeRe.FindAllStringSubmatch(q.Expr, -1) {
				if !strings.HasPrefix(m[1], "$__") && !strings.HasPrefix(m[1], "${__") {
					bad("%s: fixed range [%s], want a Grafana interval variable such as $__rate_interval", where, m[1])
				}
			}
			if strings.Contains(q.Expr, "rate(") && !strings.Contains(q.Expr, "$__rate_interval") {
				bad("%s: rate() without $__rate_interval", where)
			}
			for _, m := range scrapedMetricRe.FindAllStringSubmatch(q.Expr, -1) {
				for _, v := range []string{"job", "instance"} {
					if want := v + `=~"$` + v + `"`; !strings.Contains(m[2], want) {
						bad("%s: %s selected without %s", where, m[1], want)
					}
				}
			}
			for _, m := range bufpoolMetricRe.FindAllStringSubmatch(q.Expr, -1) {
				if !strings.HasPrefix(m[1], "bufpool_http_") && !strings.Contains(m[2], `pool=~"$pool"`) {
					bad("%s: %s selected without pool=~\"$pool\"", where, m[1])
				}
			}
		}
	}
	for _, v := range d.Templating.List {
		switch query := deref(deref(v.Query).String); v.Name {
		case "DS_PROMETHEUS":
			if v.Type != sdk.VariableTypeDatasource || query != "prometheus" {
				bad("variable %s: type %q query %q, want datasource/prometheus", v.Name, v.Type, query)
			}
		case "pool":
			if def := cmp.Or(deref(v.Definition), query); !poolQueryRe.MatchString(def) {
				bad("variable pool: query %q, want label_values(bufpool_gets_total..., pool)", def)
			}
		}
	}
	return probs
}

// TestDashboardLint lints the shipped dashboard, and shows that each rule
// catches a breach of it made in that dashboard.
func TestDashboardLint(t *testing.T) {
	data := string(readDashboard(t))
	const poolFilter = `, pool=~\"$pool\"}[$__rate_interval])) / sum by (pool) (rate(bufpool_gets_total`
	tests := []struct{ name, old, new, want string }{
		{"shipped", "", "", ""},
		{"duplicate id", `"id": 3,`, `"id": 2,`, `duplicate id 2`},
		{"target datasource", `"uid": "${DS_PROMETHEUS}"
          },
          "editorMode"`, `"uid": "prom1"
          },
          "editorMode"`, `panel "Hit ratio by pool" target A: datasource uid "prom1"`},
		{"fixed range", `[$__rate_interval]`, `[5m]`, `target A: fixed range [5m]`},
		{"rate interval", `instance=~\"$instance\"}[$__rate_interval])",`, `instance=~\"$instance\"}[$__interval])",`, `rate() without $__rate_interval`},
		{"job filter", `rate(go_memstats_alloc_bytes_total{job=~\"$job\", `, `rate(go_memstats_alloc_bytes_total{`,
			`go_memstats_alloc_bytes_total selected without job=~"$job"`},
		{"instance filter", `instance=~\"$instance\"`, `instance=~\".*\"`, `bufpool_hits_total selected without instance=~"$instance"`},
		{"pool filter", poolFilter, strings.Replace(poolFilter, `, pool=~\"$pool\"`, "", 1), `bufpool_hits_total selected without pool=~"$pool"`},
		{"datasource variable", `"query": "prometheus"`, `"query": "loki"`, `variable DS_PROMETHEUS: type "datasource" query "loki"`},
		{"pool variable", `"definition": "label_values(bufpool_gets_total{`, `"definition": "label_values(up{`,
			`variable pool: query "label_values(up{`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(data, tt.old) {
				t.Fatalf("the dashboard has no %s", tt.old)
			}
			d, _, err := decode(t, []byte(strings.Replace(data, tt.old, tt.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			probs := strings.Join(lint(d), "\n")
			if tt.want == "" && probs != "" || !strings.Contains(probs, tt.want) {
				t.Errorf("lint: %s\nwant a problem with %q", probs, tt.want)
			}
		})
	}
}
