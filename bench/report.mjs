// Prints the table of a `make bench` run (medians and ratios against the floor and the
// baselines of the same run), the bars of docs/BENCHMARKS.md as measured in this run, and writes
// one JSON document with the machine, the command, every load_client result, the ratios and the
// bars.
//
//   node bench/report.mjs <dir of load_client results> <output.json> <command> [<baseline>]
//
// Service targets: `service` (turns with "durability": "sync"), `service-async` ("async"), and
// with BENCH_BASELINE_REV `service-prev` / `service-prev-async`, the service of that commit
// (<baseline> names it). Ratios "current/previous" are this commit over the baseline: > 1 for a
// latency, < 1 for a rate is a regression.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execSync } from 'node:child_process';

const [dir, outFile, command, baseline = ''] = process.argv.slice(2);
// Scenarios in the order they ran (their first result file), targets in a fixed order.
const TARGET_ORDER = ['floor', 'service', 'service-async', 'service-prev', 'service-prev-async', 'node', 'proxy'];
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'))
  .map((f) => ({ mtime: fs.statSync(path.join(dir, f)).mtimeMs, r: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) }));
const firstRun = new Map();
for (const { mtime, r } of files) {
  const scenario = r.label.split('/')[0];
  firstRun.set(scenario, Math.min(firstRun.get(scenario) ?? Infinity, mtime));
}
const rank = (target) => (TARGET_ORDER.includes(target) ? TARGET_ORDER.indexOf(target) : TARGET_ORDER.length);
const results = files.map((x) => x.r).sort((a, b) => {
  const [sa, ta] = a.label.split('/');
  const [sb, tb] = b.label.split('/');
  return firstRun.get(sa) - firstRun.get(sb) || sa.localeCompare(sb) || rank(ta) - rank(tb) || ta.localeCompare(tb);
});

const sh = (cmd) => { try { return execSync(cmd, { encoding: 'utf8' }).trim(); } catch { return ''; } };
const machine = {
  nproc: os.cpus().length,
  cpu: os.cpus()[0]?.model ?? '',
  memory_gb: +(os.totalmem() / 2 ** 30).toFixed(1),
  kernel: `${os.type()} ${os.release()}`,
  commit: sh('git rev-parse --short HEAD'),
};

const fmt = (x, digits = 0) => (x === undefined || x === null || Number.isNaN(x) ? '-' : x.toFixed(digits));
const errs = (r) => Object.entries(r.errors).map(([k, n]) => `${k}:${n}`).join(' ') || '0';
const by = (scenario, target) => results.find((r) => r.label === `${scenario}/${target}`);
const ratio = (a, b) => (a !== undefined && b ? a / b : undefined);
// The target process's CPU time per delivered event in microseconds (its whole run: start-ups,
// parsing, storing, sending; the fake CLIs are not counted).
const cpuPerEvent = (r) => (r && r.events > 0 && r.proc ? (r.proc.cpu_s * 1e6) / r.events : undefined);

const rows = [];
rows.push(['scenario', 'target', 'turns ok', 'events/s', 'persisted/s', 'lat p50 us', 'lat p99 us',
  'warm p50 us', 'TTFE new ms', 'TTFE warm ms', 'req p50 ms', 'req p99 ms', 'req/s',
  'CPU %', 'CPU us/event', 'RSS MB', 'errors']);
for (const r of results) {
  const [scenario, target] = r.label.split('/');
  const plain = r.mode === 'read' || r.mode === 'attach';
  rows.push([scenario, target,
    r.mode === 'attach' ? `${r.requests_ok} open` : plain ? '-' : `${r.turns_ok}/${r.turns_expected}`,
    plain ? '-' : fmt(r.events_per_s), r.persisted ? fmt(r.persisted.events_per_s) : '-',
    fmt(r.added_latency_us.p50),
    fmt(r.added_latency_us.p99), fmt(r.added_latency_warm_us.p50), fmt(r.ttfe_new_ms.p50, 1),
    fmt(r.ttfe_warm_ms.p50, 1), fmt(r.request_latency_ms.p50, 2), fmt(r.request_latency_ms.p99, 2),
    r.mode === 'read' ? fmt(r.requests_per_s) : '-', fmt(r.proc.cpu_pct),
    plain ? '-' : fmt(cpuPerEvent(r), 1), fmt(r.proc.rss_peak_mb), errs(r)]);
}

// Ratios: each service target against the floor (cost over the physical minimum), each baseline
// against this commit's service targets (> 1: the baseline is slower / uses more), async against
// sync, and this commit against the previous one (BENCH_BASELINE_REV; > 1 for a latency and < 1
// for a rate is a regression; beyond 10 % it is marked).
const SERVICE_TARGETS = ['service', 'service-async', 'service-prev', 'service-prev-async'];
const ratios = [];
const regressions = [];
const turned = (r) => r && r.mode !== 'read' && r.mode !== 'attach' && r.turns_ok > 0;
for (const scenario of [...new Set(results.map((r) => r.label.split('/')[0]))]) {
  const floor = by(scenario, 'floor');
  const add = (vs, what, value) => value !== undefined && ratios.push({ scenario, vs, what, value });
  for (const target of SERVICE_TARGETS) {
    const svc = by(scenario, target);
    if (!svc) continue;
    if (svc.mode === 'attach' && svc.requests_ok > 0) {
      add(target, 'KB per stream', (svc.proc.rss_peak_mb - svc.proc.rss_start_mb) * 1024 / svc.requests_ok);
    }
    if (turned(floor) && turned(svc)) {
      add(`${target}/floor`, 'latency p50', ratio(svc.added_latency_us.p50, floor.added_latency_us.p50));
      add(`${target}/floor`, 'latency p99', ratio(svc.added_latency_us.p99, floor.added_latency_us.p99));
      add(`${target}/floor`, 'events/s', ratio(svc.events_per_s, floor.events_per_s));
      add(`${target}-floor`, 'latency p50 us', svc.added_latency_us.p50 - floor.added_latency_us.p50);
      add(`${target}-floor`, 'latency p99 us', svc.added_latency_us.p99 - floor.added_latency_us.p99);
    }
    if (floor && svc.mode === 'read') {
      add(`${target}/floor`, 'request p99', ratio(svc.request_latency_ms.p99, floor.request_latency_ms.p99));
      add(`${target}/floor`, 'req/s', ratio(svc.requests_per_s, floor.requests_per_s));
    }
    if (target.startsWith('service-prev') || !turned(svc)) continue;
    for (const base of ['node', 'proxy']) {
      const b = by(scenario, base);
      if (!turned(b)) continue;
      add(`${base}/${target}`, 'latency p50', ratio(b.added_latency_us.p50, svc.added_latency_us.p50));
      add(`${base}/${target}`, 'events/s', ratio(b.events_per_s, svc.events_per_s));
      add(`${base}/${target}`, 'TTFE warm p50', ratio(b.ttfe_warm_ms.p50, svc.ttfe_warm_ms.p50));
      add(`${base}/${target}`, 'CPU per event', ratio(cpuPerEvent(b), cpuPerEvent(svc)));
    }
  }
  const sync = by(scenario, 'service');
  const async_ = by(scenario, 'service-async');
  if (turned(sync) && turned(async_)) {
    add('service-async/service', 'latency p50', ratio(async_.added_latency_us.p50, sync.added_latency_us.p50));
    add('service-async/service', 'latency p99', ratio(async_.added_latency_us.p99, sync.added_latency_us.p99));
    add('service-async/service', 'events/s', ratio(async_.events_per_s, sync.events_per_s));
  }
  // Current over previous, per durability mode.
  for (const [cur, prev] of [['service', 'service-prev'], ['service-async', 'service-prev-async']]) {
    const c = by(scenario, cur);
    const p = by(scenario, prev);
    if (!c || !p) continue;
    const vs = `${cur}/${prev}`;
    const check = (what, value, higherIsWorse) => {
      if (value === undefined || !Number.isFinite(value)) return;
      add(vs, what, value);
      if (higherIsWorse ? value > 1.1 : value < 0.9) regressions.push({ scenario, vs, what, value });
    };
    if (turned(c) && turned(p)) {
      check('latency p50', ratio(c.added_latency_us.p50, p.added_latency_us.p50), true);
      add(vs, 'latency p99', ratio(c.added_latency_us.p99, p.added_latency_us.p99));
      check('events/s', ratio(c.events_per_s, p.events_per_s), false);
      add(vs, 'TTFE warm p50', ratio(c.ttfe_warm_ms.p50, p.ttfe_warm_ms.p50));
      check('CPU per event', ratio(cpuPerEvent(c), cpuPerEvent(p)), true);
      if (c.persisted && p.persisted) check('persisted/s', ratio(c.persisted.events_per_s, p.persisted.events_per_s), false);
    }
    if (c.mode === 'read' && p.mode === 'read') {
      check('req/s', ratio(c.requests_per_s, p.requests_per_s), false);
      add(vs, 'request p99', ratio(c.request_latency_ms.p99, p.request_latency_ms.p99));
    }
  }
}

// Cluster runs: warm turns read from the session's owner (local) against those read from another
// node (forwarded), same run, same nodes.
const GOAL_US = 200;
const cluster = [['scenario', 'forward', 'warm turns local', 'warm turns fwd', 'events/s local',
  'events/s fwd', 'fwd/local', 'p50 local us', 'p50 fwd us', 'p99 local us', 'p99 fwd us',
  'fwd-local p50 us', `goal < ${GOAL_US} us`, 'CPU % nodes', 'errors local', 'errors fwd']];
for (const r of results.filter((x) => x.cluster)) {
  const c = r.cluster;
  const diff = c.forwarded_minus_local_p50_us;
  const e = (m) => Object.entries(m).map(([k, n]) => `${k}:${n}`).join(' ') || '0';
  cluster.push([r.label.split('/')[0], c.forward,
    `${c.local.turns_ok}/${c.local.turns_expected}`, `${c.forwarded.turns_ok}/${c.forwarded.turns_expected}`,
    fmt(c.local.events_per_s), fmt(c.forwarded.events_per_s), fmt(c.events_per_s_forwarded_over_local, 2),
    fmt(c.local.added_latency_us.p50), fmt(c.forwarded.added_latency_us.p50),
    fmt(c.local.added_latency_us.p99), fmt(c.forwarded.added_latency_us.p99), fmt(diff),
    diff === undefined ? '-' : diff < GOAL_US ? 'met' : 'not met', fmt(r.proc.cpu_pct),
    e(c.local.errors), e(c.forwarded.errors)]);
  const scenario = r.label.split('/')[0];
  if (diff !== undefined) {
    ratios.push({ scenario, vs: 'fwd-local', what: 'latency p50 us', value: diff });
    ratios.push({ scenario, vs: 'fwd-local', what: 'latency p99 us', value: c.forwarded_minus_local_p99_us });
    ratios.push({ scenario, vs: 'fwd/local', what: 'events/s', value: c.events_per_s_forwarded_over_local });
  }
}

// The bars of docs/BENCHMARKS.md ("Bars"), as far as this run measured them. A bar stated for
// 100 streams is read from `streams-100`; without it (BENCH_QUICK) from the largest `streams-N`,
// and the row names the load it was read from.
const bars = [];
const us = (x) => (x === undefined ? '-' : `${Math.round(x).toLocaleString('en-US')} us`);
const plus = (x) => (x === undefined ? '-' : `${x >= 0 ? '+' : ''}${us(x)}`);
const per = (x) => (x === undefined ? '-' : Math.round(x).toLocaleString('en-US'));
// A bar read at another load than its own (BENCH_QUICK) gets a `*`: indicative only.
const verdict = (b) => (b.met === undefined ? 'not measured' : (b.met ? 'met' : 'not met') + (b.otherLoad ? '*' : ''));
const over = (scenario, target, q) => {
  const s = by(scenario, target);
  const f = by(scenario, 'floor');
  return turned(s) && turned(f) ? s.added_latency_us[q] - f.added_latency_us[q] : undefined;
};
const streamSizes = [...new Set(results.map((r) => r.label.split('/')[0]))]
  .filter((x) => /^streams-\d+$/.test(x)).map((x) => +x.slice(8)).sort((a, b) => a - b);
const at100 = streamSizes.includes(100) ? 100 : streamSizes.filter((n) => n <= 100).pop();
const loadNote = (n) => (n === 100 ? '' : n === undefined ? '' : ` [streams-${n}, not the bar's 100]`);
{
  const sc = at100 === undefined ? undefined : `streams-${at100}`;
  const p50 = sc && over(sc, 'service-async', 'p50');
  const p99 = sc && over(sc, 'service-async', 'p99');
  const vsNode = [];
  let belowNode = true;
  let nodeSeen = false;
  for (const n of streamSizes) {
    const a = by(`streams-${n}`, 'service-async');
    const b = by(`streams-${n}`, 'node');
    if (!turned(a) || !turned(b)) continue;
    nodeSeen = true;
    const ok = a.added_latency_us.p50 < b.added_latency_us.p50 && a.added_latency_us.p99 < b.added_latency_us.p99;
    belowNode &&= ok;
    vsNode.push(`${n}: ${per(a.added_latency_us.p50)}/${per(a.added_latency_us.p99)} vs node ${per(b.added_latency_us.p50)}/${per(b.added_latency_us.p99)}`);
  }
  const all = [1, 100, 1000].every((n) => streamSizes.includes(n));
  bars.push({
    bar: 'added latency over the floor, async, 100 streams: p50 < 100 us, p99 < 2 ms, below the Node wrapper at 1, 100, 1,000 streams',
    measured: p50 === undefined ? '-' : `p50 ${plus(p50)}, p99 ${plus(p99)}${loadNote(at100)}; p50/p99 us ${vsNode.join('; ') || '-'}${all ? '' : ' [not every size run]'}`,
    met: p50 === undefined ? undefined : p50 < 100 && p99 < 2000 && nodeSeen && belowNode && all,
    otherLoad: at100 !== 100 || !all,
  });
  const s50 = sc && over(sc, 'service', 'p50');
  bars.push({
    bar: 'the same, sync, 100 streams: p50 < 1.5 ms',
    measured: s50 === undefined ? '-' : `p50 ${plus(s50)}${loadNote(at100)}`,
    met: s50 === undefined ? undefined : s50 < 1500,
    otherLoad: at100 !== 100,
  });
}
{
  const a = by('throughput', 'service-async');
  const f = by('throughput', 'floor');
  const n = by('throughput', 'node');
  const ok = turned(a) && turned(f);
  bars.push({
    bar: 'events/s delivered, async, throughput: >= 0.8 of the floor and ahead of the Node wrapper',
    measured: ok ? `${per(a.events_per_s)} (${fmt(a.events_per_s / f.events_per_s, 2)} of the floor ${per(f.events_per_s)}; node ${turned(n) ? per(n.events_per_s) : '-'})` : '-',
    met: ok ? a.events_per_s >= 0.8 * f.events_per_s && turned(n) && a.events_per_s > n.events_per_s : undefined,
    otherLoad: ok && a.events_per_turn * a.streams !== 100000,
  });
  const modes = ['service', 'service-async'].map((t) => by('throughput', t)).filter((r) => r && r.persisted);
  bars.push({
    bar: 'events/s persisted, either mode: >= 50,000',
    measured: modes.length ? modes.map((r) => `${r.label.split('/')[1]} ${per(r.persisted.events_per_s)}`).join(', ') : '-',
    met: modes.length === 2 ? modes.every((r) => r.persisted.events_per_s >= 50000) : undefined,
    otherLoad: modes.some((r) => r.events_per_turn * r.streams !== 100000),
  });
}
{
  // Both states of a session (loaded on the node, resting in PostgreSQL) when both were read.
  const reads = [['loaded', by('read', 'service')], ['resting', by('read-resting', 'service')]]
    .filter(([, r]) => r && r.mode === 'read' && r.requests_ok > 0);
  bars.push({
    bar: 'GET /api/v1/sessions/{id}, 64 connections: >= 20,000 req/s, p99 < 5 ms',
    measured: reads.length === 0 ? '-' : reads.map(([state, r]) =>
      `${state} ${per(r.requests_per_s)} req/s, p99 ${fmt(r.request_latency_ms.p99, 2)} ms`).join('; '),
    met: reads.length === 0 ? undefined
      : reads.every(([, r]) => r.requests_per_s >= 20000 && r.request_latency_ms.p99 < 5),
    otherLoad: reads.some(([, r]) => r.streams !== 64),
  });
}
{
  const p50 = over('partial', 'service-async', 'p50');
  const r = by('partial', 'service-async');
  bars.push({
    bar: 'token deltas (partial), 100 streams: added latency p50 < 200 us (async)',
    measured: p50 === undefined ? '-' : `p50 ${plus(p50)}${r.streams === 100 ? '' : ` [${r.streams} streams, not the bar's 100]`}`,
    met: p50 === undefined ? undefined : p50 < 200,
    otherLoad: p50 !== undefined && r.streams !== 100,
  });
}
{
  // Every scenario the baseline runs in: the standard sizes, throughput, partial, ws and reads.
  const wanted = ['streams-1', 'streams-100', 'streams-1000', 'throughput', 'partial', 'ws', 'read', 'read-resting'];
  const compared = [...new Set(ratios.filter((x) => x.vs.includes('/service-prev')).map((x) => x.scenario))];
  const missing = wanted.filter((x) => !compared.includes(x));
  bars.push({
    bar: 'no regression: every scenario within 10 % of the previous commit',
    measured: compared.length === 0 ? '- (no baseline service in this run: BENCH_BASELINE_REV)'
      : (regressions.length === 0 ? `all within 10 % of ${baseline}`
        : regressions.map((x) => `${x.scenario} ${x.vs} ${x.what} ${fmt(x.value, 2)}`).join('; '))
        + ` [compared: ${compared.join(', ')}${missing.length ? `; not run: ${missing.join(', ')}` : ''}]`,
    met: compared.length === 0 ? undefined : regressions.length === 0,
    otherLoad: compared.length > 0 && missing.length > 0,
  });
}

const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => String(row[i]).length)));
const line = (row) => `| ${row.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
console.log(`\n${command} on ${machine.nproc} cores (${machine.cpu}), ${machine.memory_gb} GB, ${machine.kernel}, commit ${machine.commit}\n`);
console.log(line(rows[0]));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows.slice(1)) console.log(line(row));
if (cluster.length > 1) {
  const cw = cluster[0].map((_, i) => Math.max(...cluster.map((row) => String(row[i]).length)));
  const cline = (row) => `| ${row.map((c, i) => String(c).padEnd(cw[i])).join(' | ')} |`;
  console.log('\ncluster: warm turns read from the owner (local) against another node (fwd):');
  console.log(cline(cluster[0]));
  console.log(`|${cw.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of cluster.slice(1)) console.log(cline(row));
}
console.log(`\nratios (same run${baseline ? `; service-prev = ${baseline}` : ''}):`);
const sw = Math.max(12, ...ratios.map((r) => r.scenario.length));
const vw = Math.max(14, ...ratios.map((r) => r.vs.length));
const flagged = new Set(regressions.map((x) => `${x.scenario}|${x.vs}|${x.what}`));
for (const r of ratios) {
  const flag = flagged.has(`${r.scenario}|${r.vs}|${r.what}`) ? '  beyond 10 %' : '';
  console.log(`  ${r.scenario.padEnd(sw)} ${r.vs.padEnd(vw)} ${r.what.padEnd(16)} ${fmt(r.value, 2)}${flag}`);
}
console.log('\nbars (docs/BENCHMARKS.md), as measured in this run (* at another load than the bar\'s: indicative only):');
for (const b of bars) console.log(`  ${verdict(b).padEnd(12)} ${b.bar}\n${' '.repeat(15)}${b.measured}`);

fs.writeFileSync(outFile, JSON.stringify({ command, machine, baseline, date: new Date().toISOString(),
  results, ratios, regressions, bars: bars.map((b) => ({ bar: b.bar, measured: b.measured, met: verdict(b) })) }, null, 2));
