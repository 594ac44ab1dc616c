// Soak test: the realistic mix of load.js at a steady rate for a long time,
// with a /metrics sampler that records the server's resident set, heap in
// use and goroutines, so that a slow leak shows as a growing maximum.
//
//   BASE_URL=http://127.0.0.1:8080 SOAK_DURATION=30m k6 run k6/soak.js
//
// SOAK_DURATION (default 2m), RATE (requests/s, default 30), SAMPLE_EVERY
// (seconds between /metrics samples, default 5), VUS / MAX_VUS, P95_MS /
// P99_MS (default 500 / 1500), MAX_REJECTED (0.01), MAX_DROPPED (0.02),
// MAX_RSS_MIB (highest resident set of the server, default 1024),
// MAX_GOROUTINES (default 1000).
import http from 'k6/http';
import { arrivalRate, envInt, envStr, mixedWorkload, mixThresholds, okOr503, sampleServer } from './lib/common.js';
import { summaryHandler } from './lib/summary.js';

const RATE = envInt('RATE', 30);
const DURATION = envStr('SOAK_DURATION', '2m');
const mix = mixedWorkload('soak', RATE, DURATION);

export const options = {
  scenarios: {
    soak: arrivalRate(RATE, DURATION, { exec: 'mixed' }),
    sampler: {
      executor: 'constant-arrival-rate',
      exec: 'sampler',
      rate: 1,
      timeUnit: `${envInt('SAMPLE_EVERY', 5)}s`,
      duration: DURATION,
      preAllocatedVUs: 1,
      maxVUs: 4,
    },
  },
  thresholds: {
    ...mixThresholds(mix.planned),
    'http_req_duration{scenario:soak}': [`p(95)<${envInt('P95_MS', 500)}`, `p(99)<${envInt('P99_MS', 1500)}`],
    server_rss_bytes: [`max<${envInt('MAX_RSS_MIB', 1024) * 1024 * 1024}`],
    server_goroutines: [`max<${envInt('MAX_GOROUTINES', 1000)}`],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
};

http.setResponseCallback(okOr503);

export function mixed() {
  mix.request();
}

export function sampler() {
  sampleServer(mix.base);
}

export const handleSummary = summaryHandler('soak');
