// Prints the table of a `make bench` run (medians and ratios against the floor and the
// baselines of the same run) and writes one JSON document with the machine, the command and
// every load_client result.
//
//   node bench/report.mjs <dir of load_client results> <output.json> <command>
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execSync } from 'node:child_process';

const [dir, outFile, command] = process.argv.slice(2);
const results = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
  .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));

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

const rows = [];
rows.push(['scenario', 'target', 'turns ok', 'events/s', 'lat p50 us', 'lat p99 us',
  'warm p50 us', 'TTFE new ms', 'TTFE warm ms', 'req p50 ms', 'req p99 ms', 'req/s',
  'CPU %', 'RSS MB', 'errors']);
for (const r of results) {
  const [scenario, target] = r.label.split('/');
  const plain = r.mode === 'read' || r.mode === 'attach';
  rows.push([scenario, target,
    r.mode === 'attach' ? `${r.requests_ok} open` : plain ? '-' : `${r.turns_ok}/${r.turns_expected}`,
    plain ? '-' : fmt(r.events_per_s), fmt(r.added_latency_us.p50),
    fmt(r.added_latency_us.p99), fmt(r.added_latency_warm_us.p50), fmt(r.ttfe_new_ms.p50, 1),
    fmt(r.ttfe_warm_ms.p50, 1), fmt(r.request_latency_ms.p50, 2), fmt(r.request_latency_ms.p99, 2),
    r.mode === 'read' ? fmt(r.requests_per_s) : '-', fmt(r.proc.cpu_pct), fmt(r.proc.rss_peak_mb),
    errs(r)]);
}

// Ratios: the service against the floor (cost over the physical minimum) and each baseline
// against the service (> 1: the baseline is slower / uses more).
const ratios = [];
for (const scenario of [...new Set(results.map((r) => r.label.split('/')[0]))]) {
  const svc = by(scenario, 'service');
  if (!svc) continue;
  const floor = by(scenario, 'floor');
  const add = (vs, what, value) => value !== undefined && ratios.push({ scenario, vs, what, value });
  if (svc.mode === 'attach' && svc.requests_ok > 0) {
    add('service', 'KB per stream', (svc.proc.rss_peak_mb - svc.proc.rss_start_mb) * 1024 / svc.requests_ok);
  }
  if (floor && svc.mode !== 'read' && svc.mode !== 'attach') {
    add('service/floor', 'latency p50', ratio(svc.added_latency_us.p50, floor.added_latency_us.p50));
    add('service/floor', 'latency p99', ratio(svc.added_latency_us.p99, floor.added_latency_us.p99));
    add('service/floor', 'events/s', ratio(svc.events_per_s, floor.events_per_s));
    add('service-floor', 'latency p50 us', svc.added_latency_us.p50 - floor.added_latency_us.p50);
    add('service-floor', 'latency p99 us', svc.added_latency_us.p99 - floor.added_latency_us.p99);
  }
  if (floor && svc.mode === 'read') {
    add('service/floor', 'request p99', ratio(svc.request_latency_ms.p99, floor.request_latency_ms.p99));
    add('service/floor', 'req/s', ratio(svc.requests_per_s, floor.requests_per_s));
  }
  for (const base of ['node', 'proxy']) {
    const b = by(scenario, base);
    if (!b || !b.turns_ok) continue;
    add(`${base}/service`, 'latency p50', ratio(b.added_latency_us.p50, svc.added_latency_us.p50));
    add(`${base}/service`, 'events/s', ratio(b.events_per_s, svc.events_per_s));
    add(`${base}/service`, 'TTFE warm p50', ratio(b.ttfe_warm_ms.p50, svc.ttfe_warm_ms.p50));
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
console.log('\nratios (same run):');
for (const r of ratios) console.log(`  ${r.scenario.padEnd(12)} ${r.vs.padEnd(14)} ${r.what.padEnd(16)} ${fmt(r.value, 2)}`);

fs.writeFileSync(outFile, JSON.stringify({ command, machine, date: new Date().toISOString(), results, ratios }, null, 2));
