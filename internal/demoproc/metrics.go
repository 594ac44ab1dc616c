package demoproc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics maps every sample of a Prometheus text exposition to its value.
// A sample is keyed as the text format writes it, its labels sorted by
// name: `bufpool_gets_total{class="512",pool="sized"}`, or the bare name
// when it has no labels. Summaries and histograms give their _sum and
// _count samples and their quantiles or _bucket samples.
type Metrics map[string]float64

// ParseMetrics reads an exposition in the Prometheus text format, as the
// demo server serves it on /metrics, with expfmt's parser.
func ParseMetrics(r io.Reader) (Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("demoproc: %w", err)
	}
	m := make(Metrics)
	for name, f := range fams {
		for _, s := range f.GetMetric() {
			labels := s.GetLabel()
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				m[key(name, labels)] = s.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				m[key(name, labels)] = s.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				m[key(name, labels)] = s.GetUntyped().GetValue()
			case dto.MetricType_SUMMARY:
				sum := s.GetSummary()
				m[key(name+"_sum", labels)] = sum.GetSampleSum()
				m[key(name+"_count", labels)] = float64(sum.GetSampleCount())
				for _, q := range sum.GetQuantile() {
					m[key(name, labels, "quantile", q.GetQuantile())] = q.GetValue()
				}
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := s.GetHistogram()
				m[key(name+"_sum", labels)] = h.GetSampleSum()
				m[key(name+"_count", labels)] = float64(h.GetSampleCount())
				for _, b := range h.GetBucket() {
					m[key(name+"_bucket", labels, "le", b.GetUpperBound())] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return m, nil
}

// key writes a sample's name and labels as the text format does, sorted by
// label name, with an extra label (quantile, le) when extra is set.
func key(name string, labels []*dto.LabelPair, extra ...any) string {
	pairs := make([]string, 0, len(labels)+1)
	for _, l := range labels {
		pairs = append(pairs, l.GetName()+"="+strconv.Quote(l.GetValue()))
	}
	if len(extra) == 2 {
		pairs = append(pairs, fmt.Sprintf("%s=%q", extra[0], strconv.FormatFloat(extra[1].(float64), 'g', -1, 64)))
	}
	if len(pairs) == 0 {
		return name
	}
	slices.Sort(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// Sum adds up every sample named name, over all label sets (0 when there
// is none): summing a counter over its labels gives its total.
func (m Metrics) Sum(name string) float64 {
	var total float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			total += v
		}
	}
	return total
}

// Totals maps every sample name to the Sum of its samples.
func (m Metrics) Totals() map[string]float64 {
	out := make(map[string]float64)
	for k, v := range m {
		name, _, _ := strings.Cut(k, "{")
		out[name] += v
	}
	return out
}

// Scrape reads the exposition at url (a /metrics page) with client.
func Scrape(ctx context.Context, client *http.Client, url string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("demoproc: scraping %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("demoproc: scraping %s: status %s", url, resp.Status)
	}
	return ParseMetrics(io.LimitReader(resp.Body, 16<<20))
}
