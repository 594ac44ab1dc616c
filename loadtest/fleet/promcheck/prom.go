package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// client asks Prometheus the queries promcheck makes, through its HTTP API
// with client_golang's api/prometheus/v1 client.
type client struct {
	api v1.API
}

// newClient returns a client of the Prometheus at address (its base URL)
// whose every request times out after timeout.
func newClient(address string, timeout time.Duration) (*client, error) {
	c, err := api.NewClient(api.Config{Address: address, Client: &http.Client{Timeout: timeout}})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", address, err)
	}
	return &client{api: v1.NewAPI(c)}, nil
}

// sample is one series of a query result; Value is its value, NaN when
// Prometheus returned NaN, and for a range result the last value.
type sample struct {
	Metric map[string]string
	Value  float64
}

// series is one line of a chart: its legend and its points.
type series struct {
	Name   string
	Metric map[string]string
	T      []float64 // Unix seconds
	V      []float64
}

// query evaluates an instant query at time at (now if at is zero) and
// returns the type of its result and its samples.
func (c *client) query(ctx context.Context, q string, at time.Time) (string, []sample, error) {
	if at.IsZero() {
		at = time.Now()
	}
	v, _, _, err := c.api.Query(ctx, q, at)
	if err != nil {
		return "", nil, err
	}
	return v.Type().String(), samples(v), nil
}

// samples flattens a query result: one sample per series, the last point of
// each series of a matrix.
func samples(v model.Value) []sample {
	switch v := v.(type) {
	case model.Vector:
		out := make([]sample, len(v))
		for i, s := range v {
			out[i] = sample{Metric: labels(s.Metric), Value: float64(s.Value)}
		}
		return out
	case model.Matrix:
		out := make([]sample, 0, len(v))
		for _, s := range v {
			if len(s.Values) > 0 {
				out = append(out, sample{Metric: labels(s.Metric), Value: float64(s.Values[len(s.Values)-1].Value)})
			}
		}
		return out
	case *model.Scalar:
		return []sample{{Value: float64(v.Value)}}
	case *model.String:
		return []sample{{Value: math.NaN()}}
	}
	return nil
}

func labels(m model.Metric) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[string(k)] = string(v)
	}
	return out
}

// labelValues lists the values of label on the series matching selector
// (all series if it is empty) between start and end (all time if zero).
func (c *client) labelValues(ctx context.Context, selector, label string, start, end time.Time) ([]string, error) {
	var matches []string
	if selector != "" {
		matches = []string{selector}
	}
	vals, _, _, err := c.api.LabelValues(ctx, label, matches, start, end)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = string(v)
	}
	return out, nil
}

// queryRange evaluates a range query.
func (c *client) queryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) ([]series, error) {
	v, _, _, err := c.api.QueryRange(ctx, q, v1.Range{Start: start, End: end, Step: step})
	if err != nil {
		return nil, err
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("range query %s: result of type %s, want matrix", q, v.Type())
	}
	out := make([]series, 0, len(m))
	for _, ss := range m {
		s := series{Metric: labels(ss.Metric)}
		s.Name = seriesName(s.Metric)
		for _, p := range ss.Values {
			s.T = append(s.T, float64(p.Timestamp)/1000)
			s.V = append(s.V, float64(p.Value))
		}
		out = append(out, s)
	}
	return out, nil
}
