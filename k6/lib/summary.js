// End-of-test summary shared by the bodypool k6 scripts: the full k6 summary
// data as JSON in a file, and a short text summary on stdout (jslib's
// textSummary is not reachable without internet, so this is our own).

// Per-phase HTTP timings that add little here; SUMMARY_FULL=1 shows them.
const NOISY = [
  'http_req_blocked',
  'http_req_connecting',
  'http_req_tls_handshaking',
  'http_req_sending',
  'http_req_waiting',
  'http_req_receiving',
];

function fmtTime(ms) {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1) return `${(ms * 1000).toFixed(0)}µs`;
  if (ms < 1000) return `${ms.toFixed(2)}ms`;
  return `${(ms / 1000).toFixed(2)}s`;
}

function fmtBytes(b) {
  if (!Number.isFinite(b)) return String(b);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(b) >= 1024 && i < units.length - 1) {
    b /= 1024;
    i++;
  }
  return i === 0 ? `${b.toFixed(0)} ${units[i]}` : `${b.toFixed(1)} ${units[i]}`;
}

function fmtNum(x) {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(3);
}

function fmtValue(metric, v) {
  if (metric.contains === 'time') return fmtTime(v);
  if (metric.contains === 'data' || metric.bytes) return fmtBytes(v);
  return fmtNum(v);
}

function pad(s, n) {
  s = String(s);
  return s.length >= n ? s : s + '.'.repeat(n - s.length);
}

// Trend columns in the usual order: avg, min, med, max, then percentiles.
function trendRank(k) {
  const i = ['avg', 'min', 'med', 'max'].indexOf(k);
  if (i >= 0) return i;
  const m = /^p\(([\d.]+)\)$/.exec(k);
  return m ? 4 + Number(m[1]) / 100 : 10;
}

function describeMetric(metric) {
  const v = metric.values;
  switch (metric.type) {
    case 'trend':
      return Object.keys(v)
        .sort((a, b) => trendRank(a) - trendRank(b) || (a < b ? -1 : 1))
        .map((k) => `${k}=${fmtValue(metric, v[k])}`)
        .join(' ');
    case 'rate': {
      const total = (v.passes || 0) + (v.fails || 0);
      return `${(100 * (v.rate || 0)).toFixed(2)}% (${v.passes || 0} of ${total})`;
    }
    case 'counter':
      return `${fmtValue(metric, v.count)}  ${fmtValue(metric, v.rate)}/s`;
    case 'gauge':
      return `${fmtValue(metric, v.value)} (min ${fmtValue(metric, v.min)}, max ${fmtValue(metric, v.max)})`;
    default:
      return JSON.stringify(v);
  }
}

// The aggregate a threshold expression tests, e.g. p(95) in "p(95)<500".
function thresholdAggregate(expr) {
  const m = /^\s*([a-z]+(?:\(\s*[\d.]+\s*\))?)\s*(?:<=|>=|===|==|!=|<|>)/.exec(expr);
  return m ? m[1].replace(/\s+/g, '') : null;
}

function collectChecks(group, out) {
  (group.checks || []).forEach((c) => out.push(c));
  (group.groups || []).forEach((g) => collectChecks(g, out));
  return out;
}

// textSummary renders data (k6's summary object) as a few dozen lines.
export function textSummary(data, title) {
  const lines = [];
  const secs = ((data.state && data.state.testRunDurationMs) || 0) / 1000;
  lines.push(`== ${title}: ${secs.toFixed(1)}s`);

  const names = Object.keys(data.metrics).sort();
  const thresholdLines = [];
  let failedThresholds = 0;
  names.forEach((name) => {
    const metric = data.metrics[name];
    // Custom trends of server memory carry bytes, which k6 cannot tell.
    metric.bytes = /_bytes(\{|$)/.test(name);
    Object.keys(metric.thresholds || {}).sort().forEach((expr) => {
      const ok = metric.thresholds[expr].ok;
      if (!ok) failedThresholds++;
      const agg = thresholdAggregate(expr);
      const seen = agg !== null && metric.values[agg] !== undefined ? `  (${agg}=${fmtValue(metric, metric.values[agg])})` : '';
      thresholdLines.push(`  ${ok ? 'PASS' : 'FAIL'} ${name} ${expr}${seen}`);
    });
  });
  lines.push(`thresholds: ${thresholdLines.length - failedThresholds} passed, ${failedThresholds} failed`);
  thresholdLines.forEach((l) => lines.push(l));

  const checks = collectChecks(data.root_group || {}, []);
  const passes = checks.reduce((s, c) => s + c.passes, 0);
  const fails = checks.reduce((s, c) => s + c.fails, 0);
  lines.push(`checks: ${passes} passed, ${fails} failed`);
  checks
    .filter((c) => c.fails > 0)
    .forEach((c) => lines.push(`  FAIL ${c.name}: ${c.fails} of ${c.passes + c.fails} failed`));

  lines.push('metrics:');
  const full = !!__ENV.SUMMARY_FULL;
  names.forEach((name) => {
    const base = name.replace(/\{.*$/, '');
    if (!full && NOISY.indexOf(base) >= 0) return;
    const indent = name === base ? '  ' : '    ';
    lines.push(`${indent}${pad(name + ' ', 44 - indent.length)} ${describeMetric(data.metrics[name])}`);
  });
  return lines.join('\n') + '\n';
}

// summaryHandler returns a handleSummary for the script called name: the
// JSON goes to $SUMMARY (default k6/out/<name>-summary.json, relative to
// the working directory, whose folder must exist) and the text to stdout.
export function summaryHandler(name) {
  return function handleSummary(data) {
    const path = __ENV.SUMMARY || `k6/out/${name}-summary.json`;
    const out = { stdout: textSummary(data, `bodypool k6 ${name}.js`) };
    out[path] = JSON.stringify(data, null, 1);
    return out;
  };
}
