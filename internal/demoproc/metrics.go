package demoproc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics maps every sample of a Prometheus text exposition to its value.
// A sample is keyed as model.Metric's String writes it, its labels sorted
// by name: `bufpool_gets_total{band="512", pool="sized"}`, or the bare name
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
	for _, f := range fams {
		samples, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{}, f)
		if err != nil {
			return nil, fmt.Errorf("demoproc: %w", err)
		}
		for _, s := range samples {
			m[s.Metric.String()] = float64(s.Value)
		}
	}
	return m, nil
}

// Sum adds up every sample named name, over all label sets (0 when there
// is none): summing a counter over its labels gives its total.
func (m Metrics) Sum(name string) float64 {
	return m.Totals()[name]
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

// Get returns the body of GET url, at most limit bytes of it, or an error
// naming url unless the status is 200 OK.
func Get(ctx context.Context, client *http.Client, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: status %s", url, resp.Status)
	}
	return body, err
}
