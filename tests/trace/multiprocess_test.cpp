// SPDX-License-Identifier: Apache-2.0
// A forked process attaches to the same shared mapping and stamps the render
// and present stages while the parent issues frames and stamps compute: every
// frame shows up intact and ordered, with nothing stale or duplicated.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "triptych/trace/clock.hpp"
#include "triptych/trace/frame_trace.hpp"

namespace triptych::trace {
namespace {

constexpr std::uint64_t kFrames = TRIPTYCH_SANITIZED ? 2'000 : 20'000;  // sanitizers are slower
constexpr std::uint32_t kCapacity = 1u << 15;                           // holds every frame
static_assert(kCapacity >= kFrames, "the parent reads every frame back at the end");
constexpr std::uint64_t kChildTimeoutNs = 30'000'000'000;

// Child: waits for each frame's compute_end, then stamps render and present.
// Returns the number of problems (its exit status).
int child_main(void* mem, std::size_t bytes) {
  auto t = FrameTraceTable::attach(mem, bytes);
  if (!t.ok()) return 100;
  int problems = 0;
  const std::uint64_t deadline = now_ns() + kChildTimeoutNs;
  for (std::uint64_t f = 0; f < kFrames; ++f) {
    FrameSnapshot s;
    while (t->try_read(f, s) != ReadStatus::kOk || s.at(Stage::kComputeEnd) == 0) {
      if (now_ns() > deadline) return 101;
      std::this_thread::yield();
    }
    for (const Stage st : {Stage::kRenderStart, Stage::kRenderEnd, Stage::kPresented})
      if (t->stamp(f, st, now_ns()) != StampStatus::kOk) ++problems;
  }
  return problems > 99 ? 99 : problems;
}

TEST(FrameTrace, MultiProcess_ForkedChildStampsTheSameRecords) {
  const std::size_t bytes = FrameTraceTable::required_bytes(kCapacity);
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto created = FrameTraceTable::create(mem, bytes, kCapacity);
  ASSERT_TRUE(created.ok());
  FrameTraceTable t = created.value();

  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(child_main(mem, bytes));

  for (std::uint64_t f = 0; f < kFrames; ++f) {
    ASSERT_EQ(t.begin_frame(now_ns()), f);
    ASSERT_EQ(t.stamp(f, Stage::kComputeStart, now_ns()), StampStatus::kOk);
    ASSERT_EQ(t.stamp(f, Stage::kComputeEnd, now_ns()), StampStatus::kOk);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "100: attach failed, 101: timed out, else stamps refused";

  std::vector<FrameSnapshot> frames;
  CollectCounts counts;
  EXPECT_EQ(t.collect(0, frames, counts), kFrames);
  ASSERT_EQ(frames.size(), kFrames);
  EXPECT_EQ(counts.lost + counts.torn, 0u);
  std::uint64_t bad = 0;
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    const FrameSnapshot& s = frames[i];
    bool ok = s.frame == i && s.flags == 0;
    for (std::size_t k = 1; k < kStageCount; ++k)
      ok = ok && s.stamps[k] != 0 && s.stamps[k] >= s.stamps[k - 1];
    bad += ok ? 0 : 1;
  }
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(t.stale_stamps() + t.duplicate_stamps() + t.invalid_stamps(), 0u);
  munmap(mem, bytes);
}

}  // namespace
}  // namespace triptych::trace
