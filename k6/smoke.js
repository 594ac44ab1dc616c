// Smoke test: every endpoint of the demo server once, with checks on status
// and body. The 413 case sends MAX_BODY + 64 KiB, so set MAX_BODY to the
// server's -max-body (run.sh does; default 1MiB, as CI starts the server
// with -max-body 1MiB). POOL names the server's -pool mode (default sized):
// with off, /metrics must have no bufpool_* series.
//
//   BASE_URL=http://127.0.0.1:8080 MAX_BODY=1MiB k6 run k6/smoke.js
import http from 'k6/http';
import crypto from 'k6/crypto';
import { check, group } from 'k6';
import { baseURL, envInt, envStr, jsonDocument, makeBody, parseBytes } from './lib/common.js';
import { summaryHandler } from './lib/summary.js';

const BASE = baseURL();
const MAX_BODY = parseBytes(envStr('MAX_BODY', '1MiB'));
const EVENTS = envInt('EVENTS', 5);
const POOL = envStr('POOL', 'sized'); // the server's -pool (run.sh sets it)

export const options = {
  scenarios: {
    smoke: { executor: 'shared-iterations', vus: 1, iterations: 1, maxDuration: '60s' },
  },
  thresholds: {
    // Expected 400 and 413 answers are marked as such per request below, so
    // any failure here is a real one.
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    http_req_duration: [`p(95)<${envInt('P95_MS', 1000)}`, `p(99)<${envInt('P99_MS', 2000)}`],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
};

function sameBytes(a, b) {
  if (!a || !b || a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) return false;
  }
  return true;
}

function tryJSON(res) {
  try {
    return res.json();
  } catch (e) {
    return undefined;
  }
}

export default function () {
  group('healthz', () => {
    const res = http.get(`${BASE}/healthz`, { tags: { name: 'GET /healthz' } });
    check(res, { 'healthz: status 200': (r) => r.status === 200 });
  });

  group('echo', () => {
    const body = makeBody(64 * 1024 + 3, 11);
    const ct = 'application/x-bodypool-smoke';
    const res = http.post(`${BASE}/echo`, body, { headers: { 'Content-Type': ct }, tags: { name: 'POST /echo' } });
    check(res, {
      'echo: status 200': (r) => r.status === 200,
      'echo: same bytes': (r) => r.body === body,
      'echo: same Content-Type': (r) => r.headers['Content-Type'] === ct,
    });
  });

  group('upload', () => {
    const body = makeBody(300000, 12);
    const res = http.post(`${BASE}/upload`, body, {
      headers: { 'Content-Type': 'application/octet-stream' },
      tags: { name: 'POST /upload' },
    });
    const doc = tryJSON(res);
    check(res, {
      'upload: status 200': (r) => r.status === 200,
      'upload: JSON answer': (r) => /application\/json/.test(r.headers['Content-Type'] || '') && doc !== undefined,
      'upload: byte count': () => doc !== undefined && doc !== null && doc.bytes === body.length,
      'upload: sha256': () => doc !== undefined && doc !== null && doc.sha256 === crypto.sha256(body, 'hex'),
    });
  });

  group('upload over -max-body', () => {
    const body = 'x'.repeat(MAX_BODY + 64 * 1024);
    const res = http.post(`${BASE}/upload`, body, {
      headers: { 'Content-Type': 'application/octet-stream' },
      responseCallback: http.expectedStatuses(413),
      tags: { name: 'POST /upload (too large)' },
    });
    check(res, { 'upload: 413 above -max-body': (r) => r.status === 413 });
  });

  group('json', () => {
    const n = 32;
    const res = http.post(`${BASE}/json`, jsonDocument(n), {
      headers: { 'Content-Type': 'application/json' },
      tags: { name: 'POST /json' },
    });
    const arr = tryJSON(res);
    check(res, {
      'json: status 200': (r) => r.status === 200,
      'json: array of the same length': () => Array.isArray(arr) && arr.length === n,
      'json: array of objects': () => Array.isArray(arr) && arr.every((o) => o !== null && typeof o === 'object' && !Array.isArray(o)),
    });
  });

  group('blob', () => {
    const size = 100000;
    const params = { responseType: 'binary', tags: { name: 'GET /blob' } };
    const a = http.get(`${BASE}/blob?size=${size}`, params);
    const b = http.get(`${BASE}/blob?size=${size}`, params);
    check(a, {
      'blob: status 200': (r) => r.status === 200,
      'blob: length': (r) => r.body !== null && r.body.byteLength === size,
      'blob: deterministic': (r) => b.status === 200 && sameBytes(r.body, b.body),
    });
    ['-1', 'abc'].forEach((bad) => {
      const res = http.get(`${BASE}/blob?size=${bad}`, {
        responseCallback: http.expectedStatuses(400),
        tags: { name: 'GET /blob (bad size)' },
      });
      check(res, { [`blob: 400 for size=${bad}`]: (r) => r.status === 400 });
    });
  });

  group('events', () => {
    const res = http.get(`${BASE}/events?n=${EVENTS}&interval=10ms`, { tags: { name: 'GET /events' }, timeout: '30s' });
    const data = (res.body || '').match(/^data:/gm) || [];
    check(res, {
      'events: status 200': (r) => r.status === 200,
      'events: text/event-stream': (r) => /^text\/event-stream/.test(r.headers['Content-Type'] || ''),
      [`events: ${EVENTS} data: lines`]: () => data.length === EVENTS,
      'events: spaced by the interval': (r) => r.timings.duration >= (EVENTS - 1) * 10 * 0.8,
    });
  });

  group('metrics', () => {
    const res = http.get(`${BASE}/metrics`, { tags: { name: 'GET /metrics' } });
    const body = res.body || '';
    check(res, {
      'metrics: status 200': (r) => r.status === 200,
      'metrics: Go collector': () => /^go_memstats_alloc_bytes_total /m.test(body) && /^go_gc_duration_seconds_count /m.test(body),
      'metrics: process collector': () => /^process_resident_memory_bytes /m.test(body),
      // -pool off runs without the bodypool middleware, so without its series.
      [POOL === 'off' ? 'metrics: no bufpool_* series (pool off)' : 'metrics: bufpool_* series']: () =>
        /^bufpool_\w+/m.test(body) === (POOL !== 'off'),
    });
  });
}

export const handleSummary = summaryHandler('smoke');
