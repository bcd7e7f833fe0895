// SPDX-License-Identifier: Apache-2.0
// A run's trace, gathered once (TraceReport), and its four exports: Chrome
// Trace Event JSON (ui.perfetto.dev, chrome://tracing), CSV with one row per
// frame, the statistics as JSON, and a self-contained HTML report with uPlot
// inlined (no network). Reporting is off the hot path: single-threaded,
// allocating, and it never trusts a record it has not validated. How to open
// each file, and why the HTML is written by C++: docs/tracing.md ("Exporters").
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "triptych/core/result.hpp"
#include "triptych/report/counters.hpp"
#include "triptych/trace/frame_trace.hpp"
#include "triptych/report/stats.hpp"
#include "triptych/trace/spans.hpp"

namespace triptych::report {

// Why one frame failed: the first cause recorded for it (a kernel's return
// code or trap message, a passed deadline, a lost worker, "render failed: ...").
struct FrameFailure {
  std::uint64_t frame = 0;  // frame id (as in the trace records)
  std::string cause;
};

// One decision of a deadline governor (docs/pipeline.md, "Deadline
// governor"): what it moved from and to, why, and the figures that decided.
struct GovernorRow {
  std::uint64_t at_ns = 0;  // CLOCK_MONOTONIC, like the frame stamps
  std::uint64_t frame = 0;  // the frame whose sample decided it
  std::string from, to;     // the levels in words ("1.00x resolution, every particle, 60 Hz")
  std::string reason;
  double measured_ms = 0;   // the latency that decided
  double budget_ms = 0;     // the budget it was held to
};

// One move of the adaptive core plan (docs/scheduler.md, "Adaptive core
// plan"): which CPU went from which pool to which, why, and the figures.
struct CoreMoveRow {
  std::uint64_t at_ns = 0;  // CLOCK_MONOTONIC, like the frame stamps
  std::uint64_t frame = 0;  // the frame whose sample decided it
  std::uint32_t cpu = 0;
  std::string from, to;     // "render", "compute"
  std::string reason;
  double compute_ms = 0;    // median stage times over the window that decided
  double render_ms = 0;
  double predicted_ms = 0;  // the slower stage, predicted after the move
  std::uint32_t compute_cpus = 0;  // pool sizes after the move
  std::uint32_t render_cpus = 0;
};

struct TraceReport {
  std::string title = "triptych frame trace";
  std::vector<trace::FrameSnapshot> frames;   // sorted by frame id
  std::vector<FrameVerdict> verdicts;  // one per frame
  FrameStats stats;
  std::uint64_t issued = 0;  // frames opened in the table (records + lost when unknown)
  std::vector<FrameFailure> failures;   // each failed frame's cause, the first ones kept
  std::vector<GovernorRow> governor;    // the governor's decisions, in order (empty: none, or off)
  std::vector<CoreMoveRow> core_moves;  // the adaptive core plan's moves, in order (empty: none, or off)
  std::uint64_t failures_not_kept = 0;  // failed frames past the kept ones
  std::uint64_t stale_stamps = 0;  // from the table's counters
  std::uint64_t duplicate_stamps = 0;
  std::uint64_t invalid_stamps = 0;
  std::vector<trace::ThreadSpans> threads;  // spans and counters by thread
  bool has_process = false;
  ProcessCounters process{};
  std::vector<std::string> notes;  // e.g. why hardware counters are missing
  std::vector<std::pair<std::string, std::string>> config;  // run settings shown in the report
};

// Validates and analyses `frames` (any order; they are sorted by id).
[[nodiscard]] TraceReport make_report(std::vector<trace::FrameSnapshot> frames, AnalyzerOptions options,
                                      std::uint64_t lost = 0);

// Reads every frame still in `table` and analyses it, with the table's stamp
// counters; `issued` and the clock bound what counts as valid. Threads, process
// counters, notes and config are left for the caller to fill.
[[nodiscard]] TraceReport collect_report(const trace::FrameTraceTable& table);

void write_chrome_trace(const TraceReport& r, std::ostream& os);
void write_frames_csv(const TraceReport& r, std::ostream& os);
void write_stats_json(const TraceReport& r, std::ostream& os);
// Fails with kUnsupported when this build has no uPlot to inline (node_modules
// was missing at configure time: run `make deps`, then rebuild).
[[nodiscard]] Result<void> write_html_report(const TraceReport& r, std::ostream& os);

// The same, to a file; kSystem errors name the path and errno text.
[[nodiscard]] Result<void> write_chrome_trace_file(const TraceReport& r, const std::string& path);
[[nodiscard]] Result<void> write_frames_csv_file(const TraceReport& r, const std::string& path);
[[nodiscard]] Result<void> write_stats_json_file(const TraceReport& r, const std::string& path);
[[nodiscard]] Result<void> write_html_report_file(const TraceReport& r, const std::string& path);

// Whether write_html_report can work in this build.
[[nodiscard]] bool html_report_available() noexcept;

}  // namespace triptych::report
