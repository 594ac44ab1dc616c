package main

import (
	"context"
	"fmt"
	"net/http"
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

// query evaluates an instant query at time at. A scalar result comes back
// as a vector of one sample without labels.
func (c *client) query(ctx context.Context, q string, at time.Time) (model.Vector, error) {
	v, _, _, err := c.api.Query(ctx, q, at)
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case model.Vector:
		return v, nil
	case *model.Scalar:
		return model.Vector{{Metric: model.Metric{}, Value: v.Value, Timestamp: v.Timestamp}}, nil
	}
	return nil, fmt.Errorf("%s: a %s result, want a vector or a scalar", q, v.Type())
}

// queryRange evaluates a range query.
func (c *client) queryRange(ctx context.Context, q string, r v1.Range) (model.Matrix, error) {
	v, _, _, err := c.api.QueryRange(ctx, q, r)
	if err != nil {
		return nil, err
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("range query %s: a %s result, want a matrix", q, v.Type())
	}
	return m, nil
}
