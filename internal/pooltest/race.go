//go:build race

package pooltest

// IsolationRequests is the number of requests each client of an isolation
// test sends: fewer under the race detector, which makes every megabyte
// copied or poisoned cost tens of milliseconds.
const IsolationRequests = 20
