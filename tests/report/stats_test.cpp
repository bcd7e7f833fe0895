// SPDX-License-Identifier: Apache-2.0
// FrameAnalyzer: exact statistics of frames with known stamps, deadline
// misses, dropped / in-flight classification, and impossible records
// (out of order, from the future, never issued, duplicated) counted as
// invalid and left out of the statistics.
#include "triptych/report/stats.hpp"

#include <gtest/gtest.h>

namespace triptych::report {
namespace {

using namespace triptych::trace;  // the records the report is built from

constexpr std::uint64_t kMs = 1'000'000;

// A complete frame queued at `t` with the given segment durations (ns).
FrameSnapshot frame(std::uint64_t id, std::uint64_t t, std::uint64_t wait, std::uint64_t compute,
                    std::uint64_t handoff, std::uint64_t render, std::uint64_t present) {
  FrameSnapshot s;
  s.frame = id;
  s.stamps = {t,
              t + wait,
              t + wait + compute,
              t + wait + compute + handoff,
              t + wait + compute + handoff + render,
              t + wait + compute + handoff + render + present};
  return s;
}

TEST(Stats, Frames_ConstantPipelineGivesExactStats) {
  FrameAnalyzer a;
  for (std::uint64_t i = 0; i < 100; ++i)
    EXPECT_EQ(
        a.add(frame(i, 1'000 * kMs + i * 8 * kMs, 100'000, 2 * kMs, 50'000, 3 * kMs, 250'000)),
        FrameVerdict::kComplete);
  const FrameStats s = a.finish();
  EXPECT_EQ(s.complete, 100u);
  EXPECT_EQ(s.dropped + s.invalid + s.in_flight, 0u);
  EXPECT_EQ(s[Segment::kCompute].count, 100u);
  EXPECT_EQ(s[Segment::kCompute].p50_ns, 2 * kMs);
  EXPECT_EQ(s[Segment::kCompute].p999_ns, 2 * kMs);
  EXPECT_EQ(s[Segment::kQueueWait].max_ns, 100'000u);
  EXPECT_EQ(s[Segment::kHandoff].min_ns, 50'000u);
  EXPECT_EQ(s[Segment::kRender].p90_ns, 3 * kMs);
  EXPECT_EQ(s[Segment::kPresent].p99_ns, 250'000u);
  EXPECT_EQ(s[Segment::kLatency].p50_ns, 5'400'000u);
  EXPECT_DOUBLE_EQ(s[Segment::kLatency].stddev_ns, 0.0);
  EXPECT_EQ(s[Segment::kInterval].count, 99u);
  EXPECT_EQ(s[Segment::kInterval].p50_ns, 8 * kMs);
  EXPECT_DOUBLE_EQ(s[Segment::kInterval].mean_ns, 8.0 * kMs);
  // 5.4 ms fits 60, 120 and 144 Hz budgets (16.67, 8.33, 6.94 ms).
  EXPECT_EQ(s.deadline_misses[0] + s.deadline_misses[1] + s.deadline_misses[2], 0u);
}

TEST(Stats, Frames_DeadlineMissesCountLatencyOverBudget) {
  FrameAnalyzer a;
  // Latencies 5, 7.5, 10, 20 ms: over 1/144 s: 7.5, 10, 20; over 1/120 s: 10, 20; over 1/60 s: 20.
  const std::uint64_t lat[] = {5 * kMs, 7'500'000, 10 * kMs, 20 * kMs};
  for (std::uint64_t i = 0; i < 4; ++i)
    (void)a.add(frame(i, 1'000 * kMs + i * 30 * kMs, 0, lat[i], 0, 0, 0));
  const FrameStats s = a.finish();
  EXPECT_EQ(s.deadline_misses[0], 1u);  // 60 Hz
  EXPECT_EQ(s.deadline_misses[1], 2u);  // 120 Hz
  EXPECT_EQ(s.deadline_misses[2], 3u);  // 144 Hz
  EXPECT_DOUBLE_EQ(s[Segment::kLatency].mean_ns, (5 + 7.5 + 10 + 20) * kMs / 4.0);
}

TEST(Stats, Frames_DroppedAndInFlightAreToldApart) {
  FrameAnalyzer a;
  (void)a.add(frame(0, 1'000 * kMs, 0, kMs, 0, kMs, 0));
  FrameSnapshot flagged = frame(1, 1'010 * kMs, 0, kMs, 0, kMs, 0);
  flagged.stamps[2] = flagged.stamps[3] = flagged.stamps[4] = flagged.stamps[5] = 0;
  flagged.flags = kFlagDropped;
  (void)a.add(flagged);
  FrameSnapshot skipped = frame(2, 1'020 * kMs, 0, kMs, 0, kMs, 0);
  skipped.stamps[5] = 0;  // rendered but never presented, and frame 3 was
  (void)a.add(skipped);
  (void)a.add(frame(3, 1'030 * kMs, 0, kMs, 0, kMs, 0));
  FrameSnapshot last = frame(4, 1'040 * kMs, 0, kMs, 0, kMs, 0);
  last.stamps[4] = last.stamps[5] = 0;  // still rendering when read
  (void)a.add(last);
  const FrameStats s = a.finish();
  EXPECT_EQ(s.complete, 2u);
  EXPECT_EQ(s.dropped, 2u);
  EXPECT_EQ(s.in_flight, 1u);
  EXPECT_EQ(s.invalid, 0u);
  EXPECT_EQ(a.verdict(1), FrameVerdict::kDropped);
  EXPECT_EQ(a.verdict(2), FrameVerdict::kDropped);
  EXPECT_EQ(a.verdict(4), FrameVerdict::kInFlight);
  EXPECT_EQ(s[Segment::kInterval].count, 1u);  // between frames 0 and 3
  EXPECT_EQ(s[Segment::kInterval].max_ns, 30 * kMs);
}

TEST(Stats, Frames_FailedIsToldApartFromDropped) {
  FrameAnalyzer a;
  FrameSnapshot failed = frame(0, 1'000 * kMs, 0, kMs, 0, kMs, 0);
  failed.stamps[3] = failed.stamps[4] = failed.stamps[5] = 0;  // computed (and failed), never rendered
  failed.flags = kFlagFailed;
  (void)a.add(failed);
  FrameSnapshot dropped = frame(1, 1'010 * kMs, 0, kMs, 0, kMs, 0);
  dropped.stamps[3] = dropped.stamps[4] = dropped.stamps[5] = 0;
  dropped.flags = kFlagDropped;
  (void)a.add(dropped);
  (void)a.add(frame(2, 1'020 * kMs, 0, kMs, 0, kMs, 0));
  FrameSnapshot last_failed = frame(3, 1'030 * kMs, 0, kMs, 0, kMs, 0);
  last_failed.stamps[3] = last_failed.stamps[4] = last_failed.stamps[5] = 0;
  last_failed.flags = kFlagFailed;  // after the last presented frame: still failed, not in flight
  (void)a.add(last_failed);
  const FrameStats s = a.finish();
  EXPECT_EQ(s.complete, 1u);
  EXPECT_EQ(s.dropped, 1u);
  EXPECT_EQ(s.failed, 2u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(a.verdict(0), FrameVerdict::kFailed);
  EXPECT_EQ(a.verdict(1), FrameVerdict::kDropped);
  EXPECT_EQ(a.verdict(3), FrameVerdict::kFailed);
  EXPECT_EQ(verdict_name(FrameVerdict::kFailed), "failed");
}

TEST(Stats, BadInput_OutOfOrderStampsAreInvalid) {
  FrameAnalyzer a;
  FrameSnapshot backwards = frame(0, 1'000 * kMs, 0, kMs, 0, kMs, 0);
  std::swap(backwards.stamps[1], backwards.stamps[2]);
  EXPECT_EQ(a.add(backwards), FrameVerdict::kInvalid);
  FrameSnapshot gap = frame(1, 1'000 * kMs, 0, kMs, 0, kMs, 0);
  gap.stamps[2] = 0;  // compute_end missing while render stamps exist
  EXPECT_EQ(a.add(gap), FrameVerdict::kInvalid);
  FrameSnapshot no_queue = frame(2, 1'000 * kMs, 0, kMs, 0, kMs, 0);
  no_queue.stamps[0] = 0;
  EXPECT_EQ(a.add(no_queue), FrameVerdict::kInvalid);
  const FrameStats s = a.finish();
  EXPECT_EQ(s.invalid, 3u);
  EXPECT_EQ(s.invalid_out_of_order, 3u);
  EXPECT_EQ(s.complete, 0u);
  EXPECT_EQ(s[Segment::kLatency].count, 0u);
}

TEST(Stats, BadInput_FutureUnissuedAndDuplicateFramesAreInvalid) {
  FrameAnalyzer a(AnalyzerOptions{10, 2'000 * kMs});
  EXPECT_EQ(a.add(frame(0, 1'000 * kMs, 0, kMs, 0, kMs, 0)), FrameVerdict::kComplete);
  EXPECT_EQ(a.add(frame(1, 1'999 * kMs, 0, kMs, 0, kMs, 0)),
            FrameVerdict::kInvalid);  // presented after "now"
  EXPECT_EQ(a.add(frame(10, 1'000 * kMs, 0, kMs, 0, kMs, 0)),
            FrameVerdict::kInvalid);  // never issued
  EXPECT_EQ(a.add(frame(~std::uint64_t{0}, 1, 0, 1, 0, 1, 0)), FrameVerdict::kInvalid);
  EXPECT_EQ(a.add(frame(0, 1'100 * kMs, 0, kMs, 0, kMs, 0)),
            FrameVerdict::kInvalid);  // frame 0 again
  FrameSnapshot huge = frame(2, ~std::uint64_t{0} - 10, 0, 0, 0, 0, 0);
  EXPECT_EQ(a.add(huge), FrameVerdict::kInvalid);
  const FrameStats s = a.finish();
  EXPECT_EQ(s.complete, 1u);
  EXPECT_EQ(s.invalid, 5u);
  EXPECT_EQ(s.invalid_future, 2u);
  EXPECT_EQ(s.invalid_unissued, 2u);
  EXPECT_EQ(s.invalid_duplicate_id, 1u);
  EXPECT_EQ(s[Segment::kLatency].count, 1u);
  EXPECT_EQ(s[Segment::kLatency].max_ns, 2 * kMs);
}

TEST(Stats, BadInput_GarbageSnapshotsNeverCrash) {
  FrameAnalyzer a(AnalyzerOptions{1000, 5'000 * kMs});
  std::uint64_t x = 0x9e3779b97f4a7c15u;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int i = 0; i < 10'000; ++i) {
    FrameSnapshot s;
    s.frame = next() % 2000;
    for (auto& t : s.stamps) t = (next() & 1) != 0 ? next() % (6'000 * kMs) : 0;
    s.flags = static_cast<std::uint32_t>(next());
    (void)a.add(s);
  }
  const FrameStats s = a.finish();
  EXPECT_EQ(s.records, 10'000u);
  EXPECT_EQ(s.complete + s.dropped + s.failed + s.in_flight + s.invalid, s.records);
  EXPECT_GT(s.invalid, 0u);
}

}  // namespace
}  // namespace triptych::report
