// SPDX-License-Identifier: Apache-2.0
// Page script of the self-contained frame report. The C++ exporter
// (src/trace/html_report.cpp) inlines it, uPlot and the run's data (JSON in
// #triptych-data) into report.html; it runs once on load, single-threaded, and
// needs no network. It draws the frame-time plot with 8.33/16.67 ms guides, the
// stacked per-stage breakdown, the latency histogram, the summary tables and
// the system counters, and leaves window.__triptych = {data, plots} for tests.
// Design: docs/tracing.md ("Exporters").
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('triptych-data').textContent);
  const stats = data.stats;
  const series = data.series;
  const app = document.getElementById('app');

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }
  const ms = (ns) => (ns / 1e6).toFixed(3);
  const pct = (x) => (100 * x).toFixed(2) + ' %';

  const SEGMENTS = ['queue_wait', 'compute', 'handoff', 'render', 'present', 'latency', 'interval'];
  const STACK = ['queue_wait', 'compute', 'handoff', 'render', 'present'];
  const COLORS = ['#8c8c8c', '#2f7ed8', '#f28f43', '#8bbc21', '#910000'];
  const FIELDS = [
    ['count', 'count', (v) => String(v)],
    ['mean_ns', 'mean', ms], ['stddev_ns', 'stddev (jitter)', ms], ['min_ns', 'min', ms],
    ['p50_ns', 'p50', ms], ['p90_ns', 'p90', ms], ['p99_ns', 'p99', ms], ['p999_ns', 'p99.9', ms],
    ['max_ns', 'max', ms],
  ];

  app.append(el('h1', {}, stats.title));
  const f = stats.frames;
  app.append(el('p', { class: 'lede' },
    `${f.issued} frames issued: ${f.complete} presented, ${f.dropped} dropped, ${f.failed} failed, ${f.in_flight} in flight, ` +
    `${f.invalid} invalid, ${f.lost} lost. Durations in ms; percentiles within ` +
    `${pct(stats.histogram_relative_error)} (log-linear histogram), mean/stddev/min/max exact.`));

  // Summary table: one row per segment.
  const summary = el('table', { id: 'summary' });
  summary.append(el('tr', {}, el('th', {}, 'segment'), ...FIELDS.map(([, label]) => el('th', {}, label))));
  for (const seg of SEGMENTS) {
    const d = stats.segments[seg];
    summary.append(el('tr', {}, el('th', {}, seg),
      ...FIELDS.map(([key, , fmt]) => el('td', { 'data-key': `${seg}.${key}` }, fmt(d[key])))));
  }
  app.append(el('h2', {}, 'Summary'), summary);

  // Frames and deadlines.
  const frames = el('table', { id: 'frames' });
  for (const key of ['issued', 'records', 'complete', 'dropped', 'failed', 'in_flight', 'invalid', 'invalid_out_of_order',
    'invalid_future', 'invalid_unissued', 'invalid_duplicate_id', 'lost']) {
    frames.append(el('tr', {}, el('th', {}, key.replaceAll('_', ' ')),
      el('td', { 'data-key': `frames.${key}` }, String(f[key]))));
  }
  for (const [key, v] of Object.entries(stats.stamps)) {
    frames.append(el('tr', {}, el('th', {}, `${key} stamps`), el('td', { 'data-key': `stamps.${key}` }, String(v))));
  }
  const deadlines = el('table', { id: 'deadlines' });
  deadlines.append(el('tr', {}, el('th', {}, 'target'), el('th', {}, 'budget (ms)'),
    el('th', {}, 'latency over budget'), el('th', {}, 'share')));
  for (const d of stats.deadline_misses) {
    deadlines.append(el('tr', {}, el('th', {}, `${d.hz} Hz`), el('td', {}, ms(d.budget_ns)),
      el('td', { 'data-key': `deadline.${d.hz}` }, String(d.missed)), el('td', {}, pct(d.share))));
  }
  app.append(el('div', { class: 'row' },
    el('div', {}, el('h2', {}, 'Frames'), frames),
    el('div', {}, el('h2', {}, 'Deadline misses'), deadlines)));

  // Why frames failed: each failed frame's cause, as the console prints them.
  const failures = stats.failures || { kept: [], not_kept: 0 };
  if (failures.kept.length) {
    const list = el('table', { id: 'failures' });
    list.append(el('tr', {}, el('th', {}, 'frame'), el('th', {}, 'cause')));
    for (const x of failures.kept) list.append(el('tr', {}, el('td', {}, String(x.frame)), el('td', {}, x.cause)));
    if (failures.not_kept) list.append(el('tr', {}, el('td', {}, ''), el('td', {}, `and ${failures.not_kept} more`)));
    app.append(el('h2', {}, 'Failed frames'), list);
  }

  // What the deadline governor shed and restored, when and why.
  const governor = stats.governor || [];
  if (governor.length) {
    const list = el('table', { id: 'governor' });
    list.append(el('tr', {}, el('th', {}, 'at (s)'), el('th', {}, 'frame'), el('th', {}, 'from'), el('th', {}, 'to'),
      el('th', {}, 'why'), el('th', {}, 'measured (ms)'), el('th', {}, 'budget (ms)')));
    const t0 = stats.frames.first_ns || governor[0].at_ns;
    for (const g of governor) {
      list.append(el('tr', {}, el('td', {}, ((g.at_ns - t0) / 1e9).toFixed(2)), el('td', {}, String(g.frame)),
        el('td', {}, g.from), el('td', {}, g.to), el('td', {}, g.reason), el('td', {}, g.measured_ms.toFixed(2)),
        el('td', {}, g.budget_ms.toFixed(2))));
    }
    app.append(el('h2', {}, 'Deadline governor'), list);
  }

  // Where the adaptive core plan moved CPUs, when and why.
  const moves = stats.core_plan || [];
  if (moves.length) {
    const list = el('table', { id: 'core-plan' });
    list.append(el('tr', {}, el('th', {}, 'at (s)'), el('th', {}, 'frame'), el('th', {}, 'CPU'), el('th', {}, 'from'),
      el('th', {}, 'to'), el('th', {}, 'why'), el('th', {}, 'compute (ms)'), el('th', {}, 'render (ms)'),
      el('th', {}, 'predicted (ms)'), el('th', {}, 'compute / render CPUs')));
    const t0 = stats.frames.first_ns || moves[0].at_ns;
    for (const m of moves) {
      list.append(el('tr', {}, el('td', {}, ((m.at_ns - t0) / 1e9).toFixed(2)), el('td', {}, String(m.frame)),
        el('td', {}, String(m.cpu)), el('td', {}, m.from), el('td', {}, m.to), el('td', {}, m.reason),
        el('td', {}, m.compute_ms.toFixed(2)), el('td', {}, m.render_ms.toFixed(2)),
        el('td', {}, m.predicted_ms.toFixed(2)), el('td', {}, `${m.compute_cpus} / ${m.render_cpus}`)));
    }
    app.append(el('h2', {}, 'Adaptive core plan'), list);
  }

  // Plots.
  const width = Math.max(600, Math.min(1200, window.innerWidth - 48));
  const plots = {};
  const x = series.frame;
  const guide = (v) => x.map(() => v);

  const ft = el('div', { id: 'plot-frame-time', class: 'plot' });
  app.append(el('h2', {}, 'Frame time'), ft);
  plots.frameTime = new uPlot({
    width, height: 300,
    scales: { x: { time: false } },
    axes: [{ label: 'frame' }, { label: 'ms' }],
    series: [
      { label: 'frame' },
      { label: 'interval', stroke: '#2f7ed8', width: 1 },
      { label: 'latency', stroke: '#910000', width: 1 },
      { label: '8.33 ms (120 Hz)', stroke: '#4caf50', dash: [6, 4], width: 1, points: { show: false } },
      { label: '16.67 ms (60 Hz)', stroke: '#ff9800', dash: [6, 4], width: 1, points: { show: false } },
    ],
  }, [x, series.interval_ms, series.latency_ms, guide(1000 / 120), guide(1000 / 60)], ft);

  // Stacked breakdown: cumulative sums, drawn top layer first so each lower
  // layer paints over it; the legend shows each stage's own duration.
  const cumulative = [];
  let acc = x.map(() => 0);
  for (const seg of STACK) {
    acc = acc.map((v, i) => v + series[`${seg}_ms`][i]);
    cumulative.push(acc);
  }
  const order = STACK.map((_, i) => STACK.length - 1 - i);
  const bd = el('div', { id: 'plot-breakdown', class: 'plot' });
  app.append(el('h2', {}, 'Per-stage breakdown (stacked)'), bd);
  plots.breakdown = new uPlot({
    width, height: 300,
    scales: { x: { time: false } },
    axes: [{ label: 'frame' }, { label: 'ms' }],
    series: [{ label: 'frame' }, ...order.map((k) => ({
      label: STACK[k], stroke: COLORS[k], fill: COLORS[k] + 'cc', width: 1, points: { show: false },
      value: (u, v, si, idx) => (idx == null ? '--' : series[`${STACK[k]}_ms`][idx].toFixed(3)),
    }))],
  }, [x, ...order.map((k) => cumulative[k])], bd);

  // Latency histogram: equal-width bins over [min, max] of the raw latencies.
  const lat = series.latency_ms;
  const bins = Math.max(1, Math.min(60, Math.ceil(Math.sqrt(lat.length))));
  const lo = lat.length ? Math.min(...lat) : 0;
  const hi = lat.length ? Math.max(...lat) : 1;
  const w = (hi - lo) / bins || 1;
  const centers = Array.from({ length: bins }, (_, i) => lo + (i + 0.5) * w);
  const counts = new Array(bins).fill(0);
  for (const v of lat) counts[Math.min(bins - 1, Math.floor((v - lo) / w))] += 1;
  const hs = el('div', { id: 'plot-histogram', class: 'plot' });
  app.append(el('h2', {}, 'Latency histogram (queued \u2192 presented)'), hs);
  plots.histogram = new uPlot({
    width, height: 260,
    scales: { x: { time: false } },
    axes: [{ label: 'latency (ms)' }, { label: 'frames' }],
    series: [{ label: 'ms', value: (u, v) => (v == null ? '--' : v.toFixed(3)) },
      { label: 'frames', stroke: '#2f7ed8', fill: '#2f7ed899', paths: uPlot.paths.bars({ size: [0.9, 80] }),
        points: { show: false } }],
  }, [centers, counts], hs);

  // System counters per thread.
  const threads = el('table', { id: 'threads' });
  threads.append(el('tr', {}, ...['thread', 'spans', 'wall (ms)', 'user (ms)', 'sys (ms)', 'voluntary cs',
    'involuntary cs', 'migrations', 'idle wait (ms)', 'contention wait (ms)', 'contention share', 'cycles', 'instructions', 'cache misses']
    .map((h) => el('th', {}, h))));
  for (const t of stats.threads) {
    const c = t.counters;
    if (!c) {
      threads.append(el('tr', {}, el('th', {}, t.name), el('td', {}, String(t.spans)), el('td', { colspan: 12 }, 'no counters')));
      continue;
    }
    const flag = c.contention_flag;
    const hw = c.hardware;
    threads.append(el('tr', flag ? { class: 'flag' } : {}, el('th', {}, t.name), el('td', {}, String(t.spans)),
      el('td', {}, ms(c.wall_ns)), el('td', {}, ms(c.user_ns)), el('td', {}, ms(c.system_ns)),
      el('td', { 'data-key': `thread.${t.name}.voluntary_switches` }, String(c.voluntary_switches)),
      el('td', {}, String(c.involuntary_switches)),
      el('td', {}, c.cpu_migrations == null ? 'n/a' : String(c.cpu_migrations)),
      el('td', {}, ms(c.idle_wait_ns)), el('td', {}, ms(c.futex_wait_ns)),
      el('td', {}, pct(c.futex_wait_share) + (flag ? ' \u26a0 over 5 %' : '')),
      el('td', {}, hw ? String(hw.cycles) : 'n/a'), el('td', {}, hw ? String(hw.instructions) : 'n/a'),
      el('td', {}, hw ? String(hw.cache_misses) : 'n/a')));
  }
  app.append(el('h2', {}, 'System counters'), threads);
  if (stats.process) {
    const p = stats.process;
    app.append(el('p', {}, `Process: wall ${ms(p.wall_ns)} ms, user ${ms(p.user_ns)} ms, sys ${ms(p.system_ns)} ms, ` +
      `${p.voluntary_switches} voluntary / ${p.involuntary_switches} involuntary context switches, ` +
      `max RSS ${p.max_rss_kib} KiB.`));
  }
  const notes = [...stats.notes];
  for (const [k, v] of Object.entries(stats.config)) notes.push(`${k} = ${v}`);
  if (notes.length) app.append(el('h2', {}, 'Notes'), el('ul', {}, ...notes.map((n) => el('li', {}, n))));

  window.__triptych = { data, plots };
  document.body.dataset.ready = '1';
})();
