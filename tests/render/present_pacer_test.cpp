// SPDX-License-Identifier: Apache-2.0
// The window presenter's clock alone (no display, no GPU): absolute
// deadlines one period apart with the first wake-up at once, the wake-up
// ahead of each deadline by the rolling p99 of the work plus the margin, a
// miss past half a period that keeps the grid's phase, and unpaced. See
// docs/presenter.md ("Pacing").
#include <gtest/gtest.h>

#include <cstdint>

#include "render/window/present_pacer.hpp"

namespace triptych::render {
namespace {

constexpr std::int64_t kMargin = 1'650'000;
constexpr std::int64_t kPeriod = 8'333'333;  // 120 Hz, truncated

TEST(PresentPacer, FirstWakeIsNowThenDeadlinesArePeriodsApart) {
  PresentPacer p(120.0, kMargin);
  ASSERT_TRUE(p.paced());
  EXPECT_EQ(p.period_ns(), kPeriod);
  const std::int64_t t0 = 1'000'000'000;
  EXPECT_EQ(p.wake_ns(t0), t0) << "the first present wakes at once";
  const std::int64_t first = p.deadline_ns();
  EXPECT_EQ(first, t0 + kMargin);
  std::int64_t now = t0;
  for (int i = 0; i < 10; ++i) {
    const std::int64_t wake = p.wake_ns(now);
    const std::int64_t done = wake + 500'000;  // every present's work: 0.5 ms
    EXPECT_FALSE(p.presented(wake, done)) << i;
    now = done;
    EXPECT_EQ(p.deadline_ns(), first + (i + 1) * kPeriod) << "absolute: no drift from the work";
  }
  EXPECT_EQ(p.p99_work_ns(), 500'000);
  EXPECT_EQ(p.wake_ns(now), p.deadline_ns() - 500'000 - kMargin) << "wake-up = deadline - (p99 + margin)";
}

TEST(PresentPacer, P99FollowsTheSlowWorkOfTheWindow) {
  PresentPacer p(60.0, 0);
  std::int64_t now = 1'000'000'000;
  for (int i = 0; i < 100; ++i) {
    const std::int64_t wake = p.wake_ns(now);
    const std::int64_t work = i == 30 || i == 60 ? 4'000'000 : 1'000'000;  // two slow presents in 100
    static_cast<void>(p.presented(wake, wake + work));
    now = wake + work;
  }
  EXPECT_EQ(p.p99_work_ns(), 4'000'000) << "the 99th of 100 (nearest rank) is a slow one";
}

TEST(PresentPacer, ALatePresentIsAMissAndTheGridKeepsItsPhase) {
  PresentPacer p(120.0, kMargin);
  const std::int64_t t0 = 2'000'000'000;
  const std::int64_t wake = p.wake_ns(t0);
  const std::int64_t d0 = p.deadline_ns();
  // Returns 2.5 periods after its deadline: a miss, and the next deadline is
  // the first of the grid after that return (d0 + 3 periods).
  EXPECT_TRUE(p.presented(wake, d0 + 5 * kPeriod / 2));
  EXPECT_EQ(p.deadline_ns(), d0 + 3 * kPeriod);
  // A quarter period late is not a miss.
  const std::int64_t d1 = p.deadline_ns();
  EXPECT_FALSE(p.presented(p.wake_ns(d1), d1 + kPeriod / 4));
  EXPECT_EQ(p.deadline_ns(), d1 + kPeriod);
}

TEST(PresentPacer, ZeroHzIsUnpaced) {
  PresentPacer p(0.0, kMargin);
  EXPECT_FALSE(p.paced());
  EXPECT_EQ(p.wake_ns(123), 123);
  EXPECT_FALSE(p.presented(123, 10'000'000'000));
}

}  // namespace
}  // namespace triptych::render
