//go:build !race

package pooltest

// IsolationRequests is the number of requests each client of an isolation
// test sends.
const IsolationRequests = 50
