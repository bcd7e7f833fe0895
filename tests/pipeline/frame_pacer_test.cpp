// SPDX-License-Identifier: Apache-2.0
// FramePacer (include/triptych/pipeline/frame_pacer.hpp): deadlines are
// absolute (an on-time or slightly late start keeps the period grid), a start
// later than the next deadline restarts the grid from now (no catch-up burst),
// and a zero period is unpaced. Pure arithmetic: no clock, no sleeping.
#include "triptych/pipeline/frame_pacer.hpp"

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

}  // namespace
}  // namespace triptych::pipeline
