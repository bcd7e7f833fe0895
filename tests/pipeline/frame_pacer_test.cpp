// SPDX-License-Identifier: Apache-2.0
// FramePacer (include/triptych/pipeline/frame_pacer.hpp): deadlines are
// absolute (an on-time or slightly late start keeps the period grid), a start
// later than the next deadline restarts the grid from now (no catch-up burst),
// and a zero period is unpaced. PresentClock (present_clock.hpp): absolute
// present deadlines, the hand-over and issue times derived from them, and a
// late start moving to the next slot it can meet on the same grid;
// RollingP99 over its window. Pure arithmetic: no clock, no sleeping.
#include "triptych/pipeline/frame_pacer.hpp"
#include "triptych/pipeline/present_clock.hpp"

#include <gtest/gtest.h>

namespace triptych::pipeline {
namespace {

constexpr std::uint64_t kPeriod = 1'000;

TEST(FramePacer, KeepsAbsoluteDeadlinesWhenFramesStartOnTimeOrALittleLate) {
  FramePacer p(kPeriod, 10'000);
  EXPECT_TRUE(p.paced());
  EXPECT_EQ(p.deadline_ns(), 11'000U);
  p.start_frame(11'000);
  EXPECT_EQ(p.deadline_ns(), 12'000U);
  p.start_frame(12'400);  // woke 400 ns late: the grid does not drift
  EXPECT_EQ(p.deadline_ns(), 13'000U);
}

TEST(FramePacer, RestartsFromNowWhenBehindInsteadOfCatchingUp) {
  FramePacer p(kPeriod, 0);
  p.start_frame(5'500);  // due at 1'000; deadlines 2'000..5'000 already passed
  EXPECT_EQ(p.deadline_ns(), 5'500U) << "the next frame starts at once, then the grid resumes from it";
  p.start_frame(5'500);
  EXPECT_EQ(p.deadline_ns(), 6'500U);
}

TEST(FramePacer, ZeroPeriodIsUnpaced) {
  FramePacer p(0, 7'000);
  EXPECT_FALSE(p.paced());
  EXPECT_EQ(p.deadline_ns(), 7'000U);
}

constexpr std::uint64_t kClockPeriod = 8'333'333;  // 120 Hz
constexpr std::uint64_t kMs = 1'000'000;

TEST(PresentClock, HandsOverAtDeadlineMinusRenderP99AndMarginAndIssuesComputeBeforeThat) {
  PresentClock c(kClockPeriod, 100 * kMs);
  EXPECT_EQ(c.deadline_ns(), 100 * kMs + kClockPeriod);
  const std::uint64_t render = 3 * kMs;
  const std::uint64_t compute = kMs / 2;
  EXPECT_EQ(c.wake_ns(render), c.deadline_ns() - render - PresentClock::kMarginNs);
  EXPECT_EQ(c.issue_ns(render, compute), c.wake_ns(render) - compute - PresentClock::kIssueSlackNs);
}

TEST(PresentClock, DeadlinesStayOnOneGridWhateverTheEstimatesDo) {
  PresentClock c(kClockPeriod, 0);
  const std::uint64_t first = c.deadline_ns();
  for (std::uint64_t k = 1; k <= 1200; ++k) {
    // Estimates that wander move the hand-over and issue times, never the deadlines.
    const std::uint64_t render = (k % 7) * kMs / 2;
    const std::uint64_t compute = (k % 3) * kMs / 4;
    c.catch_up(c.issue_ns(render, compute) + 1000, render, compute);  // issued a moment late
    ASSERT_EQ(c.deadline_ns(), first + (k - 1) * kClockPeriod) << "frame " << k;
    c.next_frame();
  }
}

TEST(PresentClock, ALateStartMovesToTheFirstSlotItCanMeetKeepingThePhase) {
  PresentClock c(kClockPeriod, 0);
  const std::uint64_t render = 2 * kMs;
  const std::uint64_t first = c.deadline_ns();
  const std::uint64_t issue = c.issue_ns(render, 0);
  c.catch_up(issue + kClockPeriod / 2, render, 0);  // up to half a period late: keeps its deadline
  EXPECT_EQ(c.deadline_ns(), first);
  c.catch_up(issue + 2 * kClockPeriod + kMs, render, 0);  // two periods and a bit late
  EXPECT_EQ(c.deadline_ns(), first + 3 * kClockPeriod) << "the next slot whose issue time is still ahead";
  EXPECT_GE(c.issue_ns(render, 0), issue + 2 * kClockPeriod + kMs);
  EXPECT_EQ((c.deadline_ns() - first) % kClockPeriod, 0U) << "same phase";
}

TEST(RollingP99, TakesTheP99OfTheNewestWindow) {
  RollingP99 r;
  EXPECT_EQ(r.p99(), 0U);
  for (std::uint64_t i = 1; i <= 100; ++i) r.record(i);
  EXPECT_EQ(r.p99(), 99U);  // ceil(0.99 * 100) = the 99th smallest
  for (std::uint64_t i = 0; i < RollingP99::kWindow; ++i) r.record(5);
  EXPECT_EQ(r.p99(), 5U) << "old samples leave the window";
}

TEST(RollingP99, IgnoresItsWarmUp) {
  RollingP99 r(2);
  r.record(90'000'000);  // a first present
  r.record(20'000'000);
  EXPECT_EQ(r.p99(), 0U);
  r.record(3);
  EXPECT_EQ(r.p99(), 3U);
}

}  // namespace
}  // namespace triptych::pipeline
