// Package dashboard holds the tests of the repository's Grafana dashboard
// (dashboard/bodypool.json) as a file. They decode it strictly into the
// dashboard types of grafana-foundation-sdk, Grafana's own Go types
// generated from its schema: every field must be one the schema knows, with
// the right type, down to each panel's options and field config
// (timeseries, stat) and each target's Prometheus query. They then lint
// what the project promises of it (lint_test.go): one datasource variable,
// Grafana interval variables, job, instance and pool filters, unique panel
// ids. The JSON stays the source; the SDK is the check, and lives in this
// nested module so that library users never download it. What Grafana draws
// is not proven here (no Grafana server: it is AGPL); dashboard/e2e.sh
// proves what Prometheus answers.
package dashboard
