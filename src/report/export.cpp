// SPDX-License-Identifier: Apache-2.0
// Report building and the Chrome-trace, CSV and stats-JSON exporters
// (include/triptych/report/export.hpp). Off the hot path: single-threaded,
// allocating. Event layout and file formats: docs/tracing.md ("Exporters").
#include "triptych/report/export.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "triptych/core/json_writer.hpp"
#include "triptych/trace/clock.hpp"

namespace triptych::report {
namespace {

// Synthetic ids for the per-stage tracks; thread spans use the real pid/tids.
constexpr std::int64_t kStagePid = 1;
constexpr std::int64_t kSpanPid = 2;
constexpr std::int64_t kCounterTid = 9;

struct Track {
  Segment segment;
  trace::Stage from;
  trace::Stage to;
  const char* name;
};
constexpr std::array<Track, kStageSegmentCount> kTracks{{
    {Segment::kQueueWait, trace::Stage::kQueued, trace::Stage::kComputeStart, "1 queue wait"},
    {Segment::kCompute, trace::Stage::kComputeStart, trace::Stage::kComputeEnd, "2 compute"},
    {Segment::kHandoff, trace::Stage::kComputeEnd, trace::Stage::kRenderStart, "3 handoff"},
    {Segment::kRender, trace::Stage::kRenderStart, trace::Stage::kRenderEnd, "4 render"},
    {Segment::kPresent, trace::Stage::kRenderEnd, trace::Stage::kPresented, "5 present"},
}};

// Microseconds from `base`, printed with ns precision.
// A governor decision's frame, origin, reason and figures (stats.json and
// the trace event's args).
void governor_fields(JsonWriter& w, const GovernorRow& g) {
  w.field("frame", g.frame);
  w.field("from", g.from);
  w.field("reason", g.reason);
  w.key("measured_ms");
  w.fixed(g.measured_ms, 3);
  w.key("budget_ms");
  w.fixed(g.budget_ms, 3);
}

// A core plan move's figures (stats.json and the trace event's args).
void core_move_fields(JsonWriter& w, const CoreMoveRow& m) {
  w.field("frame", m.frame);
  w.field("cpu", static_cast<std::uint64_t>(m.cpu));
  w.field("from", m.from);
  w.field("to", m.to);
  w.field("reason", m.reason);
  w.key("compute_ms");
  w.fixed(m.compute_ms, 3);
  w.key("render_ms");
  w.fixed(m.render_ms, 3);
  w.key("predicted_ms");
  w.fixed(m.predicted_ms, 3);
  w.field("compute_cpus", static_cast<std::uint64_t>(m.compute_cpus));
  w.field("render_cpus", static_cast<std::uint64_t>(m.render_cpus));
}

void ts_field(JsonWriter& w, std::string_view k, std::uint64_t ns, std::uint64_t base) {
  w.key(k);
  w.fixed(static_cast<double>(ns - base) / 1000.0, 3);
}

// An instant event on the counters track, its args written by `args`.
template <class Args>
void instant_event(JsonWriter& w, const std::string& name, std::string_view category, std::uint64_t at_ns,
                   std::uint64_t base, Args&& args) {
  w.begin_object();
  w.field("ph", "i");
  w.field("s", "p");
  w.field("name", name);
  w.field("cat", category);
  w.field("pid", kStagePid);
  w.field("tid", kCounterTid);
  ts_field(w, "ts", at_ns, base);
  w.key("args");
  w.begin_object();
  args();
  w.end_object();
  w.end_object();
}

void metadata(JsonWriter& w, const char* what, std::int64_t pid, std::int64_t tid,
              std::string_view name, std::int64_t sort_index) {
  w.begin_object();
  w.field("ph", "M");
  w.field("name", what);
  w.field("pid", pid);
  w.field("tid", tid);
  w.key("args");
  w.begin_object();
  w.field("name", name);
  w.end_object();
  w.end_object();
  w.begin_object();
  w.field("ph", "M");
  w.field("name", std::string(what) == "process_name" ? "process_sort_index" : "thread_sort_index");
  w.field("pid", pid);
  w.field("tid", tid);
  w.key("args");
  w.begin_object();
  w.field("sort_index", sort_index);
  w.end_object();
  w.end_object();
}

void duration_json(JsonWriter& w, const DurationStats& d) {
  w.begin_object();
  w.field("count", d.count);
  w.field("mean_ns", d.mean_ns);
  w.field("stddev_ns", d.stddev_ns);
  w.field("min_ns", d.min_ns);
  w.field("p50_ns", d.p50_ns);
  w.field("p90_ns", d.p90_ns);
  w.field("p99_ns", d.p99_ns);
  w.field("p999_ns", d.p999_ns);
  w.field("max_ns", d.max_ns);
  w.end_object();
}

void counters_json(JsonWriter& w, const trace::ThreadCounters& c) {
  w.begin_object();
  w.field("wall_ns", c.wall_ns);
  w.field("user_ns", c.user_ns);
  w.field("system_ns", c.system_ns);
  w.field("voluntary_switches", c.voluntary_switches);
  w.field("involuntary_switches", c.involuntary_switches);
  w.key("cpu_migrations");
  if (c.migrations_available) {
    w.value(c.cpu_migrations);
  } else {
    w.null();
  }
  w.field("futex_wait_ns", c.futex_wait_ns);
  w.field("futex_wait_calls", c.futex_wait_calls);
  w.field("idle_wait_ns", c.idle_wait_ns);
  w.field("futex_wait_share", c.futex_wait_share());
  w.field("contention_flag", c.futex_wait_share() > trace::kFutexWaitShareFlag);
  w.key("hardware");
  if (c.hw_available) {
    w.begin_object();
    w.field("cycles", c.cycles);
    w.field("instructions", c.instructions);
    w.field("cache_misses", c.cache_misses);
    w.end_object();
  } else {
    w.null();
  }
  w.end_object();
}

template <class Fn>
Result<void> to_file(const std::string& path, Fn&& fn) {
  std::ofstream os(path, std::ios::binary | std::ios::trunc);
  if (!os) return make_error(Errc::kSystem, "cannot open " + path + ": " + std::strerror(errno));
  Result<void> r = fn(os);
  if (!r) return r;
  os.flush();
  if (!os) return make_error(Errc::kSystem, "cannot write " + path + ": " + std::strerror(errno));
  return {};
}

}  // namespace

TraceReport make_report(std::vector<trace::FrameSnapshot> frames, AnalyzerOptions options,
                        std::uint64_t lost) {
  TraceReport r;
  std::stable_sort(
      frames.begin(), frames.end(),
      [](const trace::FrameSnapshot& a, const trace::FrameSnapshot& b) { return a.frame < b.frame; });
  FrameAnalyzer analyzer(options);
  std::vector<bool> valid;
  valid.reserve(frames.size());
  for (const auto& f : frames) valid.push_back(analyzer.add(f) != FrameVerdict::kInvalid);
  analyzer.add_lost(lost);
  r.stats = analyzer.finish();
  r.verdicts.reserve(frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i)
    r.verdicts.push_back(valid[i] ? analyzer.verdict(frames[i].frame) : FrameVerdict::kInvalid);
  r.frames = std::move(frames);
  r.issued = options.issued != ~std::uint64_t{0} ? options.issued : r.stats.records + lost;
  return r;
}

TraceReport collect_report(const trace::FrameTraceTable& table) {
  std::vector<trace::FrameSnapshot> frames;
  trace::CollectCounts counts;
  const std::uint64_t issued = table.collect(0, frames, counts);
  TraceReport r =
      make_report(std::move(frames), AnalyzerOptions{issued, trace::now_ns()}, counts.lost + counts.torn);
  r.stale_stamps = table.stale_stamps();
  r.duplicate_stamps = table.duplicate_stamps();
  r.invalid_stamps = table.invalid_stamps();
  return r;
}

namespace {

// The earliest trustworthy timestamp, so `ts` stays small.
std::uint64_t trace_base(const TraceReport& r) {
  std::uint64_t base = ~std::uint64_t{0};
  for (std::size_t i = 0; i < r.frames.size(); ++i)
    if (r.verdicts[i] != FrameVerdict::kInvalid)
      base = std::min(base, r.frames[i].at(trace::Stage::kQueued));
  for (const auto& t : r.threads)
    for (const auto& e : t.events) base = std::min(base, e.begin_ns);
  if (base == ~std::uint64_t{0}) base = 0;
  return base;
}

// Per frame: an instant for a dropped or failed one, a slice per stage with
// flow arrows between them, and the frame-time counters of a complete one.
void frame_events(JsonWriter& w, const TraceReport& r, std::uint64_t base) {
  std::uint64_t prev_presented = 0;
  for (std::size_t i = 0; i < r.frames.size(); ++i) {
    const trace::FrameSnapshot& f = r.frames[i];
    const FrameVerdict v = r.verdicts[i];
    if (v == FrameVerdict::kInvalid) continue;
    const std::string fid = std::to_string(f.frame);
    if (v == FrameVerdict::kDropped || v == FrameVerdict::kFailed) {
      w.begin_object();
      w.field("ph", "i");
      w.field("s", "t");
      w.field("name", std::string(verdict_name(v)) + " frame " + fid);
      w.field("cat", "frame");
      w.field("pid", kStagePid);
      w.field("tid", std::int64_t{1});
      ts_field(w, "ts", f.at(trace::Stage::kQueued), base);
      w.end_object();
    }
    bool flow_started = false;
    for (std::size_t k = 0; k < kTracks.size(); ++k) {
      const Track& tr = kTracks[k];
      const std::uint64_t a = f.at(tr.from);
      const std::uint64_t b = f.at(tr.to);
      if (a == 0 || b == 0) continue;
      const auto tid = static_cast<std::int64_t>(k + 1);
      w.begin_object();
      w.field("ph", "X");
      w.field("name", std::string(segment_name(tr.segment)) + " " + fid);
      w.field("cat", "frame");
      w.field("pid", kStagePid);
      w.field("tid", tid);
      ts_field(w, "ts", a, base);
      w.key("dur");
      w.fixed(static_cast<double>(b - a) / 1000.0, 3);
      w.key("args");
      w.begin_object();
      w.field("frame", f.frame);
      w.end_object();
      w.end_object();
      // Flow arrows: one chain per frame, bound to each stage's slice.
      const bool last = k + 1 == kTracks.size() || f.at(kTracks[k + 1].to) == 0;
      if (!flow_started && last) continue;  // a one-slice frame needs no arrow
      w.begin_object();
      w.field("ph", !flow_started ? "s" : (last ? "f" : "t"));
      w.field("bp", "e");
      w.field("name", "frame");
      w.field("cat", "frame");
      w.field("id", f.frame);
      w.field("pid", kStagePid);
      w.field("tid", tid);
      ts_field(w, "ts", a, base);
      w.end_object();
      flow_started = true;
    }
    if (v == FrameVerdict::kComplete) {
      const std::uint64_t presented = f.at(trace::Stage::kPresented);
      w.begin_object();
      w.field("ph", "C");
      w.field("name", "frame time (ms)");
      w.field("pid", kStagePid);
      w.field("tid", kCounterTid);
      ts_field(w, "ts", presented, base);
      w.key("args");
      w.begin_object();
      w.key("latency");
      w.fixed(static_cast<double>(segment_ns(f, Segment::kLatency)) / 1e6, 4);
      if (prev_presented != 0 && presented > prev_presented) {
        w.key("interval");
        w.fixed(static_cast<double>(presented - prev_presented) / 1e6, 4);
      }
      w.end_object();
      w.end_object();
      prev_presented = presented;
    }
  }
}

// Each governor decision and core plan move: an instant event on the counters track.
void governor_events(JsonWriter& w, const TraceReport& r, std::uint64_t base) {
  for (const auto& g : r.governor) {
    instant_event(w, "governor: " + g.to, "governor", g.at_ns, base, [&] { governor_fields(w, g); });
  }
  for (const auto& m : r.core_moves) {
    instant_event(w, "core plan: CPU " + std::to_string(m.cpu) + " " + m.from + " -> " + m.to, "core_plan", m.at_ns,
                  base, [&] { core_move_fields(w, m); });
  }
}

// Each thread's spans, with their source location.
void span_events(JsonWriter& w, const TraceReport& r, std::uint64_t base) {
  for (const auto& t : r.threads) {
    for (const auto& e : t.events) {
      w.begin_object();
      w.field("ph", "X");
      w.field("name", e.loc != nullptr ? e.loc->name : "span");
      w.field("cat", "span");
      w.field("pid", kSpanPid);
      w.field("tid", t.tid);
      ts_field(w, "ts", e.begin_ns, base);
      w.key("dur");
      w.fixed(static_cast<double>(e.end_ns >= e.begin_ns ? e.end_ns - e.begin_ns : 0) / 1000.0, 3);
      if (e.loc != nullptr) {
        w.key("args");
        w.begin_object();
        w.field("function", e.loc->function);
        w.field("source", std::string(e.loc->file) + ":" + std::to_string(e.loc->line));
        w.end_object();
      }
      w.end_object();
    }
  }
}

}  // namespace

void write_chrome_trace(const TraceReport& r, std::ostream& os) {
  const std::uint64_t base = trace_base(r);
  JsonWriter w(os);
  w.begin_object();
  w.field("displayTimeUnit", "ms");
  w.key("traceEvents");
  w.begin_array();
  metadata(w, "process_name", kStagePid, 0, r.title + ": frame stages", 0);
  for (std::size_t k = 0; k < kTracks.size(); ++k)
    metadata(w, "thread_name", kStagePid, static_cast<std::int64_t>(k + 1), kTracks[k].name,
             static_cast<std::int64_t>(k + 1));
  metadata(w, "thread_name", kStagePid, kCounterTid, "frame counters", kCounterTid);
  metadata(w, "process_name", kSpanPid, 0, r.title + ": threads (spans)", 1);
  for (std::size_t t = 0; t < r.threads.size(); ++t)
    metadata(w, "thread_name", kSpanPid, r.threads[t].tid, r.threads[t].name,
             static_cast<std::int64_t>(t));

  frame_events(w, r, base);
  governor_events(w, r, base);
  span_events(w, r, base);
  w.end_array();
  w.key("otherData");
  w.begin_object();
  w.field("title", r.title);
  w.field("frames", static_cast<std::uint64_t>(r.frames.size()));
  w.field("clock", "CLOCK_MONOTONIC");
  w.field("base_ns", base);
  w.end_object();
  w.end_object();
  os << '\n';
}

void write_frames_csv(const TraceReport& r, std::ostream& os) {
  os << "frame,status,flags";
  for (std::size_t s = 0; s < trace::kStageCount; ++s)
    os << ',' << trace::stage_name(static_cast<trace::Stage>(s)) << "_ns";
  for (std::size_t s = 0; s < kSegmentCount; ++s)
    os << ',' << segment_name(static_cast<Segment>(s)) << "_ns";
  os << '\n';
  std::uint64_t prev_presented = 0;
  for (std::size_t i = 0; i < r.frames.size(); ++i) {
    const trace::FrameSnapshot& f = r.frames[i];
    const FrameVerdict v = r.verdicts[i];
    os << f.frame << ',' << verdict_name(v) << ',' << f.flags;
    for (const std::uint64_t t : f.stamps) os << ',' << t;
    for (std::size_t s = 0; s < kSegmentCount; ++s) {
      os << ',';
      const auto seg = static_cast<Segment>(s);
      if (v != FrameVerdict::kComplete) continue;  // empty cell: not a duration
      if (seg == Segment::kInterval) {
        if (prev_presented != 0 && f.at(trace::Stage::kPresented) > prev_presented)
          os << f.at(trace::Stage::kPresented) - prev_presented;
      } else {
        os << segment_ns(f, seg);
      }
    }
    if (v == FrameVerdict::kComplete) prev_presented = f.at(trace::Stage::kPresented);
    os << '\n';
  }
}

namespace {

// The frame counts: how many of each verdict, and the span they cover.
void frames_json(JsonWriter& w, const TraceReport& r) {
  const FrameStats& s = r.stats;
  w.key("frames");
  w.begin_object();
  w.field("records", s.records);
  w.field("complete", s.complete);
  w.field("issued", r.issued);
  w.field("dropped", s.dropped);
  w.field("failed", s.failed);
  w.field("in_flight", s.in_flight);
  w.field("invalid", s.invalid);
  w.field("invalid_out_of_order", s.invalid_out_of_order);
  w.field("invalid_future", s.invalid_future);
  w.field("invalid_unissued", s.invalid_unissued);
  w.field("invalid_duplicate_id", s.invalid_duplicate_id);
  w.field("lost", s.lost);
  w.field("first_ns", s.first_ns);
  w.field("last_ns", s.last_ns);
  w.end_object();
}

// Each failed frame's cause (docs/tracing.md, "Accounting").
void failures_json(JsonWriter& w, const TraceReport& r) {
  w.key("failures");
  w.begin_object();
  w.key("kept");
  w.begin_array();
  for (const auto& f : r.failures) {
    w.begin_object();
    w.field("frame", f.frame);
    w.field("cause", f.cause);
    w.end_object();
  }
  w.end_array();
  w.field("not_kept", r.failures_not_kept);
  w.end_object();
}

// The deadline governor's decisions (docs/pipeline.md, "Deadline governor").
void governor_json(JsonWriter& w, const TraceReport& r) {
  w.key("governor");
  w.begin_array();
  for (const auto& g : r.governor) {
    w.begin_object();
    w.field("at_ns", g.at_ns);
    w.field("to", g.to);
    governor_fields(w, g);
    w.end_object();
  }
  w.end_array();
}

// The adaptive core plan's moves (docs/scheduler.md, "Adaptive core plan").
void core_plan_json(JsonWriter& w, const TraceReport& r) {
  w.key("core_plan");
  w.begin_array();
  for (const auto& m : r.core_moves) {
    w.begin_object();
    w.field("at_ns", m.at_ns);
    core_move_fields(w, m);
    w.end_object();
  }
  w.end_array();
}

// Late frames against each target rate's budget.
void deadline_misses_json(JsonWriter& w, const FrameStats& s) {
  w.key("deadline_misses");
  w.begin_array();
  for (std::size_t i = 0; i < kTargetRatesHz.size(); ++i) {
    w.begin_object();
    w.field("hz", kTargetRatesHz[i]);
    w.field("budget_ns", std::uint64_t{1'000'000'000u} / kTargetRatesHz[i]);
    w.field("missed", s.deadline_misses[i]);
    w.field("share", s.complete == 0 ? 0.0
                                     : static_cast<double>(s.deadline_misses[i]) /
                                           static_cast<double>(s.complete));
    w.end_object();
  }
  w.end_array();
}

void threads_json(JsonWriter& w, const TraceReport& r) {
  w.key("threads");
  w.begin_array();
  for (const auto& t : r.threads) {
    w.begin_object();
    w.field("name", t.name);
    w.field("tid", t.tid);
    w.field("spans", static_cast<std::uint64_t>(t.events.size()));
    w.field("spans_dropped", t.dropped);
    w.key("counters");
    if (t.has_counters) {
      counters_json(w, t.counters);
    } else {
      w.null();
    }
    w.end_object();
  }
  w.end_array();
}

void process_json(JsonWriter& w, const TraceReport& r) {
  w.key("process");
  if (r.has_process) {
    w.begin_object();
    w.field("wall_ns", r.process.wall_ns);
    w.field("user_ns", r.process.user_ns);
    w.field("system_ns", r.process.system_ns);
    w.field("voluntary_switches", r.process.voluntary_switches);
    w.field("involuntary_switches", r.process.involuntary_switches);
    w.field("max_rss_kib", r.process.max_rss_kib);
    w.end_object();
  } else {
    w.null();
  }
}

}  // namespace

void write_stats_json(const TraceReport& r, std::ostream& os) {
  const FrameStats& s = r.stats;
  JsonWriter w(os);
  w.begin_object();
  w.field("version", std::uint64_t{1});
  w.field("title", r.title);
  w.field("histogram_relative_error", LogLinearHistogram::kMaxRelativeError);
  frames_json(w, r);
  failures_json(w, r);
  governor_json(w, r);
  core_plan_json(w, r);
  w.key("stamps");
  w.begin_object();
  w.field("stale", r.stale_stamps);
  w.field("duplicate", r.duplicate_stamps);
  w.field("invalid", r.invalid_stamps);
  w.end_object();
  w.key("segments");
  w.begin_object();
  for (std::size_t i = 0; i < kSegmentCount; ++i) {
    w.key(segment_name(static_cast<Segment>(i)));
    duration_json(w, s.segments[i]);
  }
  w.end_object();
  deadline_misses_json(w, s);
  threads_json(w, r);
  process_json(w, r);
  w.key("notes");
  w.begin_array();
  for (const auto& n : r.notes) w.value(n);
  w.end_array();
  w.key("config");
  w.begin_object();
  for (const auto& [k, v] : r.config) w.field(k, v);
  w.end_object();
  w.end_object();
}

Result<void> write_chrome_trace_file(const TraceReport& r, const std::string& path) {
  return to_file(path, [&](std::ostream& os) -> Result<void> {
    write_chrome_trace(r, os);
    return {};
  });
}
Result<void> write_frames_csv_file(const TraceReport& r, const std::string& path) {
  return to_file(path, [&](std::ostream& os) -> Result<void> {
    write_frames_csv(r, os);
    return {};
  });
}
Result<void> write_stats_json_file(const TraceReport& r, const std::string& path) {
  return to_file(path, [&](std::ostream& os) -> Result<void> {
    write_stats_json(r, os);
    os << '\n';
    return {};
  });
}
Result<void> write_html_report_file(const TraceReport& r, const std::string& path) {
  if (!html_report_available())
    return make_error(Errc::kUnsupported,
                      "this build has no uPlot to inline: run `make deps`, then rebuild");
  return to_file(path, [&](std::ostream& os) { return write_html_report(r, os); });
}

}  // namespace triptych::report
