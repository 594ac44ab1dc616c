// Shared helpers for the bodypool k6 scripts: target URL, environment
// parsing, deterministic payloads and the request mix.
import http from 'k6/http';
import crypto from 'k6/crypto';
import exec from 'k6/execution';
import { check } from 'k6';
import { SharedArray } from 'k6/data';
import { Rate, Trend } from 'k6/metrics';

const KiB = 1024;
const MiB = 1024 * KiB;

// baseURL returns BASE_URL (default http://127.0.0.1:8080) without a
// trailing slash. Only loopback targets are accepted unless REMOTE_TARGET=1
// is set: these scripts are meant for a demo server on this machine, and a
// cluster run (deploy/, the k6 operator) says explicitly that it aims at a
// service by name.
export function baseURL() {
  const raw = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (__ENV.REMOTE_TARGET === '1') {
    if (!/^https?:\/\/[A-Za-z0-9.\-\[\]:]+$/.test(raw)) {
      throw new Error(`BASE_URL must be http(s)://host[:port], got ${JSON.stringify(raw)}`);
    }
    return raw;
  }
  const m = /^http:\/\/(127(?:\.\d{1,3}){3}|localhost|\[::1\])(?::(\d{1,5}))?$/.exec(raw);
  if (!m) {
    throw new Error(`BASE_URL must be http://<loopback address>[:port] (or set REMOTE_TARGET=1), got ${JSON.stringify(raw)}`);
  }
  return raw;
}

// envInt reads a non-negative integer from the environment.
export function envInt(name, def) {
  const v = __ENV[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(v)}`);
  return Math.floor(n);
}

// envNum reads a number from the environment.
export function envNum(name, def) {
  const v = __ENV[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

// envStr reads a string from the environment.
export function envStr(name, def) {
  const v = __ENV[name];
  return v === undefined || v === '' ? def : v;
}

// parseBytes understands plain byte counts and human sizes such as 512KiB,
// 1MiB, 8MB or 2G. Decimal units are read as binary ones: the result is
// used to send a body that must be over a limit, so rounding up is safe.
export function parseBytes(s) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$/i.exec(String(s));
  if (!m) throw new Error(`cannot parse size ${JSON.stringify(s)}`);
  const mult = { '': 1, k: KiB, m: MiB, g: 1024 * MiB, t: 1024 * 1024 * MiB }[m[2].toLowerCase()];
  return Math.ceil(Number(m[1]) * mult);
}

// parseDuration understands k6/Go style durations such as 90s, 2m, 1h30m
// and 500ms, and returns seconds.
export function parseDuration(s) {
  const str = String(s).trim();
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let consumed = 0;
  let m;
  while ((m = re.exec(str)) !== null) {
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
    consumed += m[0].length;
  }
  if (consumed === 0 || consumed !== str.length) throw new Error(`cannot parse duration ${JSON.stringify(s)}`);
  return total;
}

// patternBlock returns n printable ASCII characters from a xorshift32
// stream seeded with seed: deterministic, and not one repeated byte.
function patternBlock(seed, n) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let x = (seed * 2654435761) >>> 0 || 1;
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out[i] = alphabet[x & 63];
  }
  return out.join('');
}

// makeBody returns size bytes of deterministic ASCII for the given seed,
// built by repeating a 4 KiB block so that megabytes cost next to nothing.
export function makeBody(size, seed) {
  const block = patternBlock(seed, Math.min(size, 4096) || 1);
  return block.repeat(Math.ceil(size / block.length)).slice(0, size);
}

// Size classes of the realistic mix: 60% 1 KiB, 25% 16-64 KiB, 12% 256 KiB
// and 3% 1 MiB. Sizes inside a class are deliberately not all powers of two.
export const SIZE_CLASSES = [
  { label: '1k', weight: 60, sizes: [1024] },
  { label: '16-64k', weight: 25, sizes: [16 * KiB, 23170, 40000, 64 * KiB] },
  { label: '256k', weight: 12, sizes: [256 * KiB] },
  { label: '1m', weight: 3, sizes: [MiB] },
];

// payloadSet describes every payload of the given classes (without bytes)
// and exposes the bytes through a SharedArray, so that each is generated
// once per test run and shared by all VUs. Its digests come from a second
// SharedArray, so reading a digest does not copy a body.
export function payloadSet(name, classes) {
  const meta = [];
  classes.forEach((c) => {
    c.sizes.forEach((size) => {
      meta.push({ cls: c.label, size, seed: meta.length + 1 });
    });
  });
  // Each body sits in an object: SharedArray deep-freezes what it hands
  // out, and freezing a bare string walks every one of its characters.
  const bodies = new SharedArray(`${name}-bodies`, () => meta.map((p) => ({ b: makeBody(p.size, p.seed) })));
  const digests = new SharedArray(`${name}-sha256`, () => meta.map((p) => crypto.sha256(makeBody(p.size, p.seed), 'hex')));
  const byClass = {};
  meta.forEach((p, i) => {
    (byClass[p.cls] = byClass[p.cls] || []).push(i);
  });
  const totalWeight = classes.reduce((s, c) => s + c.weight, 0);
  return {
    meta,
    // pick maps u in [0,1) to a class by weight and v in [0,1) to one of
    // its payloads; it returns the payload's index.
    pick(u, v) {
      let acc = 0;
      for (const c of classes) {
        acc += c.weight / totalWeight;
        if (u < acc) {
          const idx = byClass[c.label];
          return idx[Math.floor(v * idx.length)];
        }
      }
      const idx = byClass[classes[classes.length - 1].label];
      return idx[idx.length - 1];
    },
    body(i) {
      return bodies[i].b;
    },
    sha256(i) {
      return digests[i];
    },
  };
}

// weyl returns the i-th point of an additive (Weyl) sequence in [0,1).
// Using one per decision (size, endpoint, variant) with rationally
// independent steps gives every run the same, evenly spread request mix,
// so runs against different pool modes see the same traffic.
const WEYL_STEPS = [0.6180339887498949, 0.41421356237309515, 0.7320508075688772, 0.2360679774997898];
export function weyl(i, k) {
  const x = (i + 1) * WEYL_STEPS[k % WEYL_STEPS.length] + 0.5 * k;
  return x - Math.floor(x);
}

// budgetRejected counts requests that the pool budget turned away with 503.
export const budgetRejected = new Rate('budget_rejected');

// okOr503 is the response callback of the load scripts: 2xx is a success
// and so is 503 (the documented answer of an exhausted pool budget, which
// budget_rejected counts and bounds separately).
export const okOr503 = http.expectedStatuses({ min: 200, max: 299 }, 503);

// checkRejected records whether res is a budget rejection, checks that a
// rejection says when to retry, and returns true when res was one.
export function checkRejected(res, what) {
  const rejected = res.status === 503;
  budgetRejected.add(rejected);
  if (rejected) {
    check(res, { [`${what}: 503 carries Retry-After`]: (r) => !!r.headers['Retry-After'] });
  }
  return rejected;
}

const OCTETS = 'application/octet-stream';

// doEcho posts payload i of set to /echo and checks the echoed bytes. The
// answer stays binary and is compared by digest: cheaper in k6 than
// turning megabytes into a JavaScript string and comparing strings.
export function doEcho(base, set, i, extraTags) {
  const p = set.meta[i];
  const res = http.post(`${base}/echo`, set.body(i), {
    headers: { 'Content-Type': OCTETS },
    responseType: 'binary',
    tags: Object.assign({ name: 'POST /echo', endpoint: 'echo', size: p.cls }, extraTags),
  });
  if (checkRejected(res, 'echo')) return res;
  check(res, {
    'echo: status 200': (r) => r.status === 200,
    'echo: same length': (r) => r.body !== null && r.body.byteLength === p.size,
    'echo: same bytes': (r) => r.body !== null && crypto.sha256(r.body, 'hex') === set.sha256(i),
    'echo: same Content-Type': (r) => String(r.headers['Content-Type'] || '').indexOf(OCTETS) === 0,
  });
  return res;
}

// upload posts payload i of set to /upload and checks the reported count
// and digest.
export function doUpload(base, set, i, extraTags) {
  const p = set.meta[i];
  const res = http.post(`${base}/upload`, set.body(i), {
    headers: { 'Content-Type': OCTETS },
    tags: Object.assign({ name: 'POST /upload', endpoint: 'upload', size: p.cls }, extraTags),
  });
  if (checkRejected(res, 'upload')) return res;
  let doc = null;
  try {
    doc = res.json();
  } catch (e) {
    doc = null;
  }
  check(res, {
    'upload: status 200': (r) => r.status === 200,
    'upload: byte count': () => doc !== null && doc.bytes === p.size,
    'upload: sha256': () => doc !== null && doc.sha256 === set.sha256(i),
  });
  return res;
}

// doBlob fetches size bytes from /blob and checks the length.
export function doBlob(base, size, cls, extraTags) {
  const res = http.get(`${base}/blob?size=${size}`, {
    responseType: 'binary',
    tags: Object.assign({ name: 'GET /blob', endpoint: 'blob', size: cls }, extraTags),
  });
  if (checkRejected(res, 'blob')) return res;
  check(res, {
    'blob: status 200': (r) => r.status === 200,
    'blob: length': (r) => r.body !== null && r.body.byteLength === size,
  });
  return res;
}

// jsonDocument returns a JSON array of n small objects, keys out of order.
export function jsonDocument(n) {
  const items = [];
  for (let i = 0; i < n; i++) {
    const k = (i * 7919) % n;
    items.push({ id: k, name: `item-${k}`, score: (k * 37) % 101, tags: ['a', 'b', String(k % 5)] });
  }
  return JSON.stringify(items);
}

// doJSON posts a JSON array of n objects to /json and checks the answer is
// an array of the same length.
export function doJSON(base, doc, n, extraTags) {
  const res = http.post(`${base}/json`, doc, {
    headers: { 'Content-Type': 'application/json' },
    tags: Object.assign({ name: 'POST /json', endpoint: 'json', size: 'json' }, extraTags),
  });
  if (checkRejected(res, 'json')) return res;
  let arr = null;
  try {
    arr = res.json();
  } catch (e) {
    arr = null;
  }
  check(res, {
    'json: status 200': (r) => r.status === 200,
    'json: array of the same length': () => Array.isArray(arr) && arr.length === n,
  });
  return res;
}

// mixedRequest sends the iteration's request of the realistic mix:
// 45% /echo, 40% /upload, 10% /blob and 5% /json, with body sizes drawn
// from set by class weight. The choice depends only on the iteration
// number, so every run sends the same sequence.
export function mixedRequest(base, set, jsonDoc, jsonN, extraTags) {
  const it = exec.scenario.iterationInTest;
  const i = set.pick(weyl(it, 0), weyl(it, 2));
  const e = weyl(it, 1);
  if (e < 0.45) return doEcho(base, set, i, extraTags);
  if (e < 0.85) return doUpload(base, set, i, extraTags);
  if (e < 0.95) return doBlob(base, set.meta[i].size, set.meta[i].cls, extraTags);
  return doJSON(base, jsonDoc, jsonN, extraTags);
}

// mixedWorkload prepares, in the init context, the realistic mix of
// load.js and soak.js under the given name: its payloads (SIZE_CLASSES), a
// JSON document of 32 elements, the number of requests planned at rate
// per second for duration, and request(), which sends the iteration's
// request of the mix to the server at baseURL().
export function mixedWorkload(name, rate, duration) {
  const base = baseURL();
  const set = payloadSet(name, SIZE_CLASSES);
  const jsonN = 32;
  const doc = jsonDocument(jsonN);
  return {
    base,
    planned: Math.ceil(rate * parseDuration(duration)),
    request: () => mixedRequest(base, set, doc, jsonN),
  };
}

// scrapeValue returns the value of the first sample of metric in the
// Prometheus text exposition body, or NaN.
export function scrapeValue(body, metric) {
  const re = new RegExp(`^${metric}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'm');
  const m = re.exec(body || '');
  return m ? Number(m[1]) : NaN;
}

// Memory of the server as its /metrics reports it, sampled by the spike and
// soak scripts: resident set, heap in use and goroutines.
export const serverRSS = new Trend('server_rss_bytes');
export const serverHeapInuse = new Trend('server_heap_inuse_bytes');
export const serverGoroutines = new Trend('server_goroutines');

// sampleServer scrapes /metrics once and records the three trends.
export function sampleServer(base, extraTags) {
  const tags = Object.assign({ name: 'GET /metrics', endpoint: 'metrics' }, extraTags);
  const res = http.get(`${base}/metrics`, { tags });
  const ok = check(res, { 'metrics: status 200': (r) => r.status === 200 });
  if (!ok) return;
  const rss = scrapeValue(res.body, 'process_resident_memory_bytes');
  const heap = scrapeValue(res.body, 'go_memstats_heap_inuse_bytes');
  const gor = scrapeValue(res.body, 'go_goroutines');
  if (Number.isFinite(rss)) serverRSS.add(rss, extraTags);
  if (Number.isFinite(heap)) serverHeapInuse.add(heap, extraTags);
  if (Number.isFinite(gor)) serverGoroutines.add(gor, extraTags);
}

// arrivalRate returns a constant-arrival-rate scenario of rate requests per
// second for duration, with VUS pre-allocated VUs and at most MAX_VUS
// (defaults from the rate), and any fields of extra (such as exec).
export function arrivalRate(rate, duration, extra = {}) {
  return Object.assign(
    {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration,
      preAllocatedVUs: envInt('VUS', Math.max(10, Math.ceil(rate / 2))),
      maxVUs: envInt('MAX_VUS', Math.max(20, rate * 2)),
      gracefulStop: '10s',
    },
    extra,
  );
}

// mixThresholds are the thresholds of a run of the mixed workload at a
// constant rate: failures, checks, budget rejections (MAX_REJECTED) and
// iterations k6 could not start on time (MAX_DROPPED) out of planned.
export function mixThresholds(planned) {
  return {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    budget_rejected: [`rate<=${envNum('MAX_REJECTED', 0.01)}`],
    // The server must keep up with the arrival rate.
    dropped_iterations: [`count<=${Math.ceil(planned * envNum('MAX_DROPPED', 0.02))}`],
  };
}
