// SPDX-License-Identifier: Apache-2.0
// The finished run's outputs: write_outputs() (Chrome trace, HTML report,
// frames.csv, stats.json, a PNG of the last presented frame) and
// summary_table() (the per-stage console table). Blocking (file I/O). Host
// thread, after stop(). Design: docs/pipeline.md ("Accounting" says why the
// outputs agree) and docs/tracing.md.
#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>

#include "engine_impl.hpp"
#include "triptych/render/image.hpp"

namespace triptych::pipeline {

Result<void> Engine::write_outputs(const Outputs& out,
                                   const std::vector<std::pair<std::string, std::string>>& run_config) {
  Impl& m = *impl_;
  report::TraceReport run_report = report::collect_report(*m.table);
  run_report.title = "triptych run";
  run_report.threads = trace::collect_threads();
  run_report.process = m.process.finish();
  run_report.has_process = true;
  if (const std::string note = report::hw_counters_note(); !note.empty()) run_report.notes.push_back(note);
  run_report.config = run_config;
  run_report.config.emplace_back("renderer", renderer_description());
  if (const std::string raster = raster_description(); !raster.empty()) run_report.config.emplace_back("raster", raster);
  run_report.config.emplace_back("particles rejected by validation",
                                 std::to_string(m.particles_rejected.load(std::memory_order_relaxed)));
  run_report.config.emplace_back("particles clamped", std::to_string(m.particles_clamped.load(std::memory_order_relaxed)));
  {
    std::lock_guard<std::mutex> lock(m.message_mu);
    run_report.config.emplace_back("frame loop priority", m.frame_loop_priority);
    if (!m.particle_log.empty()) {
      // The + and - keys' changes: each frame id's count follows from these.
      std::string counts = std::to_string(m.cfg.particles) + " from frame 1";
      for (const auto& [from, count] : m.particle_log) {
        counts += "; " + std::to_string(count) + " from frame " + std::to_string(from + 1);
      }
      run_report.config.emplace_back("particles simulated", counts);
    }
    run_report.failures = m.failure_log;
    run_report.failures_not_kept = m.failures_not_kept;
    for (const GovernorDecision& d : m.governor_log) {
      report::GovernorRow row;
      row.at_ns = d.at_ns;
      row.frame = d.frame;
      row.from = describe_level(d.from_level);
      row.to = describe_level(d.to_level);
      row.reason = std::string(governor_reason_text(d.reason));
      row.measured_ms = static_cast<double>(d.measured_ns) * 1e-6;
      row.budget_ms = static_cast<double>(d.budget_ns) * 1e-6;
      run_report.governor.push_back(std::move(row));
    }
    for (const CoreMove& mv : m.core_move_log) {
      const bool to_compute = mv.reason == CoreMoveReason::kComputeSlower;
      report::CoreMoveRow row;
      row.at_ns = mv.at_ns;
      row.frame = mv.frame;
      row.cpu = mv.cpu;
      row.from = to_compute ? "render" : "compute";
      row.to = to_compute ? "compute" : "render";
      row.reason = std::string(core_move_reason_text(mv.reason));
      row.compute_ms = static_cast<double>(mv.compute_ns) * 1e-6;
      row.render_ms = static_cast<double>(mv.render_ns) * 1e-6;
      row.predicted_ms = static_cast<double>(mv.predicted_ns) * 1e-6;
      row.compute_cpus = mv.compute_cpus;
      row.render_cpus = mv.render_cpus;
      run_report.core_moves.push_back(std::move(row));
    }
  }
  run_report.config.emplace_back("delivered", delivery_summary());
  if (m.isolated) {
    const EngineStatus now = status();
    run_report.config.emplace_back("frames lost to a render crash", std::to_string(now.lost));
    run_report.config.emplace_back("isolation", isolation_summary(now));
  }
  if (!out.trace_json.empty()) {
    if (auto ok = report::write_chrome_trace_file(run_report, out.trace_json); !ok) return ok;
  }
  if (!out.frames_csv.empty()) {
    if (auto ok = report::write_frames_csv_file(run_report, out.frames_csv); !ok) return ok;
  }
  if (!out.stats_json.empty()) {
    if (auto ok = report::write_stats_json_file(run_report, out.stats_json); !ok) return ok;
  }
  if (!out.report_html.empty()) {
    if (auto ok = report::write_html_report_file(run_report, out.report_html); !ok) return ok;
  }
  if (!out.snapshot_png.empty()) {
    // The front of the result buffer: the last presented frame.
    TripleBuffer& result_tb = m.arena->triple_buffer(FrameStage::kResult);
    const std::uint32_t front_index = result_tb.indices().reader;
    if (front_index >= 3) return make_error(Errc::kCorruptHeader, "corrupt result triple buffer: reader index out of range");
    const auto front = m.arena->zone(static_cast<ZoneId>(static_cast<std::uint32_t>(ZoneId::kResultA) + front_index));
    auto image = render::image_from_result_zone(front);
    if (!image) return image.error();
    if (auto ok = render::write_png(out.snapshot_png, image.value()); !ok) return ok;
  }
  return {};
}

// Isolation mode's counters in words, for the summary and the outputs.
std::string isolation_summary(const EngineStatus& s) {
  char line[400];
  std::snprintf(line, sizeof line,
                "%llu render process crashes (%llu by SIGKILL, %llu hangs killed), %llu respawns (%llu warm, %llu cold with no standby ready), %llu protocol "
                "violations refused, %llu results refused, last recovery %.1f ms, copy in %.3f ms + out %.3f ms "
                "per frame%s%s",
                static_cast<unsigned long long>(s.render_crashes),
                static_cast<unsigned long long>(s.render_crashes_by_sigkill),
                static_cast<unsigned long long>(s.render_hangs_killed),
                static_cast<unsigned long long>(s.render_respawns),
                static_cast<unsigned long long>(s.render_respawns_warm),
                static_cast<unsigned long long>(s.render_respawns_no_standby),
                static_cast<unsigned long long>(s.render_violations),
                static_cast<unsigned long long>(s.render_results_refused), s.render_recovery_ms, s.isolate_copy_in_ms,
                s.isolate_copy_out_ms, s.isolation_fallback.empty() ? "" : "; fell back in-process: ",
                s.isolation_fallback.c_str());
  return line;
}

std::string Engine::summary_table() const {
  const Impl& m = *impl_;
  const report::TraceReport run_report = report::collect_report(*m.table);
  const report::FrameStats& st = run_report.stats;
  std::ostringstream os;
  char line[160];
  std::snprintf(line, sizeof(line), "%-22s %8s %9s %9s %9s %9s %9s\n", "stage (ms)", "count", "mean",
                "p50", "p99", "max", "stddev");
  os << line;
  for (std::size_t i = 0; i < report::kSegmentCount; ++i) {
    const auto seg = static_cast<report::Segment>(i);
    const report::DurationStats& d = st[seg];
    std::snprintf(line, sizeof(line), "%-22s %8llu %9.3f %9.3f %9.3f %9.3f %9.3f\n",
                  std::string(report::segment_name(seg)).c_str(), static_cast<unsigned long long>(d.count),
                  d.mean_ns * 1e-6, static_cast<double>(d.p50_ns) * 1e-6, static_cast<double>(d.p99_ns) * 1e-6,
                  static_cast<double>(d.max_ns) * 1e-6, d.stddev_ns * 1e-6);
    os << line;
  }
  const EngineStatus now = status();
  std::snprintf(line, sizeof(line),
                "frames: issued %llu, presented %llu, late %llu, dropped %llu, failed %llu, lost to a render crash %llu, "
                "in flight %llu\n",
                static_cast<unsigned long long>(now.issued), static_cast<unsigned long long>(now.presented),
                static_cast<unsigned long long>(now.late), static_cast<unsigned long long>(now.dropped),
                static_cast<unsigned long long>(now.failed), static_cast<unsigned long long>(now.lost),
                static_cast<unsigned long long>(now.in_flight));
  os << line;
  if (m.isolated) os << "isolation: " << isolation_summary(now) << '\n';
  std::snprintf(line, sizeof(line), "particles: rejected by validation %llu, clamped %llu\n",
                static_cast<unsigned long long>(m.particles_rejected.load(std::memory_order_relaxed)),
                static_cast<unsigned long long>(m.particles_clamped.load(std::memory_order_relaxed)));
  os << line;
  return os.str();
}

}  // namespace triptych::pipeline
