// Spike test: a burst of large uploads (256 KiB - 1 MiB) that ramps up to
// SPIKE_RATE per second, holds, ramps down to nothing and is followed by a
// quiet period, while a light probe of 1 KiB echoes and a /metrics sampler
// run throughout. Requests are tagged phase=spike or phase=quiet, so the
// summary shows whether small requests and memory recover after the burst.
//
//   BASE_URL=http://127.0.0.1:8080 k6 run k6/spike.js
//
// SPIKE_RATE (uploads/s at the top, default 60), RAMP (default 5s), HOLD
// (10s), QUIET (15s), PROBE_RATE (echoes/s, default 5), P95_MS / P99_MS
// (burst latency, default 2000 / 4000), P95_PROBE_MS (500), P95_QUIET_MS
// (probe latency after the burst, 250), MAX_REJECTED (highest share of 503
// budget rejections, default 0.5: a budget is allowed to shed a spike),
// MAX_RSS_MIB (highest resident set of the server, default 1024).
import http from 'k6/http';
import exec from 'k6/execution';
import {
  baseURL,
  doEcho,
  doUpload,
  envInt,
  envNum,
  envStr,
  okOr503,
  parseDuration,
  payloadSet,
  sampleServer,
  weyl,
} from './lib/common.js';
import { summaryHandler } from './lib/summary.js';

const BASE = baseURL();
const SPIKE_RATE = envInt('SPIKE_RATE', 60);
const RAMP = envStr('RAMP', '5s');
const HOLD = envStr('HOLD', '10s');
const QUIET = envStr('QUIET', '15s');
const PROBE_RATE = envInt('PROBE_RATE', 5);
const SPIKE_SECONDS = 2 * parseDuration(RAMP) + parseDuration(HOLD);
const TOTAL = `${Math.ceil(SPIKE_SECONDS + parseDuration(QUIET))}s`;

const KiB = 1024;
const payloads = payloadSet('spike', [
  { label: '1k', weight: 0, sizes: [KiB] },
  { label: '256k', weight: 5, sizes: [256 * KiB, 300000] },
  { label: '512k', weight: 3, sizes: [512 * KiB] },
  { label: '1m', weight: 2, sizes: [1024 * KiB] },
]);
const PROBE = payloads.meta.findIndex((p) => p.cls === '1k');

export const options = {
  scenarios: {
    burst: {
      executor: 'ramping-arrival-rate',
      exec: 'burst',
      startRate: 0,
      timeUnit: '1s',
      preAllocatedVUs: envInt('VUS', Math.max(10, Math.ceil(SPIKE_RATE / 3))),
      maxVUs: envInt('MAX_VUS', Math.max(50, SPIKE_RATE * 3)),
      stages: [
        { target: SPIKE_RATE, duration: RAMP },
        { target: SPIKE_RATE, duration: HOLD },
        { target: 0, duration: RAMP },
        { target: 0, duration: QUIET },
      ],
      gracefulStop: '10s',
    },
    probe: {
      executor: 'constant-arrival-rate',
      exec: 'probe',
      rate: PROBE_RATE,
      timeUnit: '1s',
      duration: TOTAL,
      preAllocatedVUs: 2,
      maxVUs: 10,
    },
    sampler: {
      executor: 'constant-arrival-rate',
      exec: 'sampler',
      rate: 1,
      timeUnit: '1s',
      duration: TOTAL,
      preAllocatedVUs: 1,
      maxVUs: 4,
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{scenario:burst}': [`p(95)<${envInt('P95_MS', 2000)}`, `p(99)<${envInt('P99_MS', 4000)}`],
    'http_req_duration{scenario:probe}': [`p(95)<${envInt('P95_PROBE_MS', 500)}`],
    'http_req_duration{scenario:probe,phase:quiet}': [`p(95)<${envInt('P95_QUIET_MS', 250)}`],
    checks: ['rate>0.99'],
    budget_rejected: [`rate<=${envNum('MAX_REJECTED', 0.5)}`],
    server_rss_bytes: [`max<${envInt('MAX_RSS_MIB', 1024) * 1024 * 1024}`],
    'server_rss_bytes{phase:quiet}': [`max<${envInt('MAX_RSS_MIB', 1024) * 1024 * 1024}`],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
};

http.setResponseCallback(okOr503);

function phase() {
  return exec.instance.currentTestRunDuration / 1000 < SPIKE_SECONDS ? 'spike' : 'quiet';
}

export function burst() {
  const it = exec.scenario.iterationInTest;
  doUpload(BASE, payloads, payloads.pick(weyl(it, 0), weyl(it, 2)), { phase: phase() });
}

export function probe() {
  doEcho(BASE, payloads, PROBE, { phase: phase() });
}

export function sampler() {
  sampleServer(BASE, { phase: phase() });
}

export const handleSummary = summaryHandler('spike');
