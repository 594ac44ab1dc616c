// Load test: a constant arrival rate of a realistic body-size mix (60% 1 KiB,
// 25% 16-64 KiB, 12% 256 KiB, 3% 1 MiB) over /echo, /upload, /blob and
// /json. Every run sends the same request sequence, so runs against
// different pool modes are comparable.
//
//   BASE_URL=http://127.0.0.1:8080 RATE=50 DURATION=15s k6 run k6/load.js
//
// RATE (requests/s, default 20), DURATION (default 30s), VUS / MAX_VUS
// (pre-allocated / most VUs), P95_MS / P99_MS (latency thresholds, default
// 500 / 1500), P95_SMALL_MS (1 KiB bodies, 250), MAX_REJECTED (highest share
// of 503 budget rejections, 0.01), MAX_DROPPED (highest share of iterations
// k6 could not start on time, 0.02).
import http from 'k6/http';
import { arrivalRate, envInt, envStr, mixedWorkload, mixThresholds, okOr503 } from './lib/common.js';
import { summaryHandler } from './lib/summary.js';

const RATE = envInt('RATE', 20);
const DURATION = envStr('DURATION', '30s');
const mix = mixedWorkload('load', RATE, DURATION);

export const options = {
  scenarios: {
    load: arrivalRate(RATE, DURATION),
  },
  thresholds: {
    ...mixThresholds(mix.planned),
    http_req_duration: [`p(95)<${envInt('P95_MS', 500)}`, `p(99)<${envInt('P99_MS', 1500)}`],
    // Small bodies must stay fast whatever the big ones do.
    'http_req_duration{size:1k}': [`p(95)<${envInt('P95_SMALL_MS', 250)}`],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
};

http.setResponseCallback(okOr503);

export default function () {
  mix.request();
}

export const handleSummary = summaryHandler('load');
