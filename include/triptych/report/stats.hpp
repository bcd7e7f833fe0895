// SPDX-License-Identifier: Apache-2.0
// Frame statistics from trace records: per stage segment, end-to-end latency
// (queued -> presented) and frame interval (presented -> next presented):
// count, mean, stddev (jitter), p50/p90/p99/p99.9, min/max; deadline misses
// at 60/120/144 Hz; dropped, failed, in-flight and invalid frames. Records with
// impossible stamps (out of order, in the future, from a frame id never
// issued) are counted as invalid and left out, never trusted. Single-threaded;
// allocates. Definitions: docs/tracing.md ("Statistics").
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "triptych/trace/frame_trace.hpp"
#include "triptych/report/histogram.hpp"

namespace triptych::report {

// Durations derived from the six stamps. The first five add up to kLatency.
enum class Segment : std::uint32_t {
  kQueueWait = 0,  // queued -> compute_start
  kCompute = 1,    // compute_start -> compute_end
  kHandoff = 2,    // compute_end -> render_start
  kRender = 3,     // render_start -> render_end
  kPresent = 4,    // render_end -> presented
  kLatency = 5,    // queued -> presented
  kInterval = 6,   // presented(previous presented frame) -> presented
};
inline constexpr std::size_t kSegmentCount = 7;
inline constexpr std::size_t kStageSegmentCount = 5;

[[nodiscard]] std::string_view segment_name(Segment s) noexcept;

// A frame misses its deadline at rate R when its latency exceeds 1/R.
inline constexpr std::array<std::uint32_t, 3> kTargetRatesHz{60, 120, 144};

struct DurationStats {
  std::uint64_t count = 0;
  double mean_ns = 0.0;
  double stddev_ns = 0.0;
  std::uint64_t min_ns = 0;
  std::uint64_t p50_ns = 0;
  std::uint64_t p90_ns = 0;
  std::uint64_t p99_ns = 0;
  std::uint64_t p999_ns = 0;
  std::uint64_t max_ns = 0;
};

enum class FrameVerdict {
  kComplete,  // all six stamps, in order: in the statistics
  kDropped,   // flagged dropped, or never presented while a later frame was
  kFailed,    // flagged failed (trace::kFlagFailed): compute or render failed; never shown
  kInFlight,  // not presented yet, and no later frame was either
  kInvalid,   // impossible stamps: counted, left out
};

[[nodiscard]] std::string_view verdict_name(FrameVerdict v) noexcept;

struct FrameStats {
  std::uint64_t records = 0;  // snapshots analysed
  std::uint64_t complete = 0;
  std::uint64_t dropped = 0;
  std::uint64_t failed = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t invalid = 0;
  std::uint64_t invalid_out_of_order = 0;  // stamps not non-decreasing, or a gap before a set stamp
  std::uint64_t invalid_future = 0;        // a stamp later than the analysis clock
  std::uint64_t invalid_unissued = 0;      // a frame id at or past `issued`
  std::uint64_t invalid_duplicate_id = 0;  // the same frame id twice
  std::uint64_t lost = 0;                  // records overwritten or torn before they were read
  std::uint64_t first_ns = 0;              // earliest queued stamp of a complete frame
  std::uint64_t last_ns = 0;               // latest presented stamp of a complete frame
  std::array<DurationStats, kSegmentCount> segments{};
  std::array<std::uint64_t, kTargetRatesHz.size()> deadline_misses{};

  [[nodiscard]] const DurationStats& operator[](Segment s) const noexcept {
    return segments[static_cast<std::size_t>(s)];
  }
};

struct AnalyzerOptions {
  std::uint64_t issued = ~std::uint64_t{0};  // frame ids at or past this were never issued
  std::uint64_t now_ns = ~std::uint64_t{0};  // stamps past this are "from the future"
};

// Classifies snapshots and accumulates statistics. Snapshots may arrive in any
// order; intervals and "dropped" need the whole set, so finish() does them.
class FrameAnalyzer {
 public:
  explicit FrameAnalyzer(AnalyzerOptions options = {});
  ~FrameAnalyzer();
  FrameAnalyzer(const FrameAnalyzer&) = delete;
  FrameAnalyzer& operator=(const FrameAnalyzer&) = delete;

  // Adds one snapshot; returns its verdict so far (kInFlight may later turn
  // into kDropped when a later frame turns out presented).
  FrameVerdict add(const trace::FrameSnapshot& s);
  void add_lost(std::uint64_t n) noexcept { lost_ += n; }

  // The statistics over everything added.
  [[nodiscard]] FrameStats finish() const;

  // Final verdict of frame `id` after finish() semantics; kInvalid when unknown.
  [[nodiscard]] FrameVerdict verdict(std::uint64_t id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint64_t lost_ = 0;
};

// Duration of `seg` for one complete frame (kInterval is not per-frame: 0).
[[nodiscard]] std::uint64_t segment_ns(const trace::FrameSnapshot& s, Segment seg) noexcept;

[[nodiscard]] DurationStats summarize(const LogLinearHistogram& h) noexcept;

}  // namespace triptych::report
