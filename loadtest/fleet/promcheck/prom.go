package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// requestTimeout bounds each request to Prometheus.
const requestTimeout = 10 * time.Second

// client asks Prometheus the queries promcheck makes, through
// client_golang's api/prometheus/v1 client of its HTTP API.
type client struct{ api v1.API }

// newClient returns a client of the Prometheus at address (its base URL).
func newClient(address string) (*client, error) {
	c, err := api.NewClient(api.Config{Address: address, Client: &http.Client{Timeout: requestTimeout}})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", address, err)
	}
	return &client{api: v1.NewAPI(c)}, nil
}

// query substitutes vars into expr (see substitute) and evaluates it at
// time at. A scalar result comes back as a vector of one sample without
// labels.
func (c *client) query(ctx context.Context, expr string, vars map[string]string, at time.Time) (model.Vector, error) {
	q, err := substitute(expr, vars)
	if err != nil {
		return nil, err
	}
	v, _, _, err := c.api.Query(ctx, q, at)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	switch v := v.(type) {
	case model.Vector:
		return v, nil
	case *model.Scalar:
		return model.Vector{{Metric: model.Metric{}, Value: v.Value, Timestamp: v.Timestamp}}, nil
	}
	return nil, fmt.Errorf("%s: a %s result, want a vector or a scalar", q, v.Type())
}

// labelValuesRe parses label_values(label) and label_values(selector, label).
var labelValuesRe = regexp.MustCompile(`^\s*label_values\(\s*(?:(.*?)\s*,\s*)?(\w+)\s*\)\s*$`)

// labelValues substitutes vars into a label_values() variable query (see
// substitute) and answers it as Grafana does, through
// /api/v1/label/<name>/values over [start, end]. No value is an error.
func (c *client) labelValues(ctx context.Context, query string, vars map[string]string, start, end time.Time) (model.LabelValues, error) {
	q, err := substitute(query, vars)
	m := labelValuesRe.FindStringSubmatch(q)
	if err == nil && m == nil {
		err = errors.New("not a label_values() query")
	}
	var vals model.LabelValues
	if err == nil {
		var matches []string // none for label_values(label)
		if m[1] != "" {
			matches = []string{m[1]}
		}
		vals, _, _, err = c.api.LabelValues(ctx, m[2], matches, start, end)
	}
	if err == nil && len(vals) == 0 {
		err = errors.New("no values")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	return vals, nil
}
