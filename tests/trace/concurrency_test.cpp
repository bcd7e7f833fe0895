// SPDX-License-Identifier: Apache-2.0
// Stamps from several threads: a producer opens frames, three stage threads
// stamp them in pipeline order, and a reader copies records while they are
// written. Counts lost, torn-but-accepted, out-of-order and duplicated frames
// and asserts 0. Also: spans pushed by several threads while a collector
// drains, with none lost unaccounted and each thread's spans in order.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "triptych/trace/trace.hpp"

namespace triptych::trace {
namespace {

// Sanitizer builds run ~10x slower; fewer frames keep the test short there.
constexpr std::uint64_t kFrames = TRIPTYCH_SANITIZED ? 20'000 : 200'000;
constexpr std::uint32_t kCapacity = 64;

bool ordered_prefix(const FrameSnapshot& s) {
  bool gap = false;
  std::uint64_t prev = 0;
  for (const std::uint64_t t : s.stamps) {
    if (t == 0) {
      gap = true;
      continue;
    }
    if (gap || t < prev) return false;
    prev = t;
  }
  return s.at(Stage::kQueued) != 0;
}

TEST(FrameTrace, Concurrent_StampsFromFourThreadsArriveIntactAndOrdered) {
  const std::size_t bytes = FrameTraceTable::required_bytes(kCapacity);
  void* mem = std::aligned_alloc(64, bytes);
  ASSERT_NE(mem, nullptr);
  auto created = FrameTraceTable::create(mem, bytes, kCapacity);
  ASSERT_TRUE(created.ok());
  FrameTraceTable table = created.value();

  // progress[k]: frames stage-thread k has finished (k = 0 producer).
  std::atomic<std::uint64_t> progress[4] = {};
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> bad_stamp{0};

  std::thread producer([&] {
    for (std::uint64_t f = 0; f < kFrames; ++f) {
      // Keep at most half the ring in flight, so no record is reused before
      // the last stage has checked it.
      // SYNC(progress): acquire pairs with the last stage's release.
      while (f >= progress[3].load(std::memory_order_acquire) + kCapacity / 2)
        std::this_thread::yield();
      if (table.begin_frame(now_ns()) != f) bad_stamp.fetch_add(1, std::memory_order_relaxed);
      // SYNC(progress): publishes the opened record to stage 1.
      progress[0].store(f + 1, std::memory_order_release);
    }
  });
  const std::vector<std::vector<Stage>> stages = {{Stage::kComputeStart, Stage::kComputeEnd},
                                                  {Stage::kRenderStart, Stage::kRenderEnd},
                                                  {Stage::kPresented}};
  std::atomic<std::uint64_t> verified{0};
  std::atomic<std::uint64_t> unordered{0};
  std::vector<std::thread> workers;
  for (int k = 1; k <= 3; ++k) {
    workers.emplace_back([&, k] {
      for (std::uint64_t f = 0; f < kFrames; ++f) {
        // SYNC(progress): acquire pairs with the previous stage's release.
        while (progress[k - 1].load(std::memory_order_acquire) <= f) std::this_thread::yield();
        for (const Stage s : stages[static_cast<std::size_t>(k - 1)]) {
          if (table.stamp(f, s, now_ns()) != StampStatus::kOk)
            bad_stamp.fetch_add(1, std::memory_order_relaxed);
        }
        if (k == 3) {
          FrameSnapshot snap;
          if (table.try_read(f, snap) == ReadStatus::kOk && snap.frame == f &&
              snap.at(Stage::kPresented) != 0 && ordered_prefix(snap) && snap.flags == 0) {
            verified.fetch_add(1, std::memory_order_relaxed);
          } else {
            unordered.fetch_add(1, std::memory_order_relaxed);
          }
        }
        // SYNC(progress): publishes this stage's stamps to the next stage.
        progress[k].store(f + 1, std::memory_order_release);
      }
    });
  }
  // A reader racing the writers: accepted copies must be consistent.
  std::atomic<std::uint64_t> reads_ok{0};
  std::atomic<std::uint64_t> inconsistent{0};
  std::thread reader([&] {
    while (!done.load(std::memory_order_acquire)) {
      const std::uint64_t issued = table.issued();
      for (std::uint64_t f = issued > kCapacity ? issued - kCapacity : 0; f < issued; ++f) {
        FrameSnapshot snap;
        if (table.try_read(f, snap) != ReadStatus::kOk)
          continue;  // missing/torn: rejected, as it must be
        reads_ok.fetch_add(1, std::memory_order_relaxed);
        if (snap.frame != f || !ordered_prefix(snap))
          inconsistent.fetch_add(1, std::memory_order_relaxed);
      }
    }
  });
  producer.join();
  for (auto& w : workers) w.join();
  done.store(true, std::memory_order_release);
  reader.join();

  EXPECT_EQ(bad_stamp.load(std::memory_order_relaxed), 0u);      // 0 stale, 0 duplicated
  EXPECT_EQ(unordered.load(std::memory_order_relaxed), 0u);      // 0 torn or reordered frames seen by the last stage
  EXPECT_EQ(verified.load(std::memory_order_relaxed), kFrames);  // 0 lost
  EXPECT_EQ(inconsistent.load(std::memory_order_relaxed), 0u);   // 0 torn copies accepted by a racing reader
  EXPECT_GT(reads_ok.load(std::memory_order_relaxed), 0u);
  EXPECT_EQ(table.stale_stamps() + table.duplicate_stamps() + table.invalid_stamps(), 0u);

  std::vector<FrameSnapshot> tail;
  CollectCounts counts;
  EXPECT_EQ(table.collect(kFrames - kCapacity, tail, counts), kFrames);
  EXPECT_EQ(tail.size(), kCapacity);
  EXPECT_EQ(counts.lost + counts.torn, 0u);
  for (const auto& s : tail) EXPECT_TRUE(ordered_prefix(s) && s.at(Stage::kPresented) != 0);
  std::free(mem);
}

TEST(Spans, Concurrent_ThreadsPushWhileACollectorDrains) {
  constexpr int kThreads = 4;
  constexpr std::uint64_t kSpans = TRIPTYCH_SANITIZED ? 20'000 : 200'000;
  (void)collect_threads();
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      register_thread("span writer " + std::to_string(i), 256);
      for (std::uint64_t n = 0; n < kSpans; ++n) {
        TRIPTYCH_SPAN("work");
      }
      finished.fetch_add(1, std::memory_order_release);
    });
  }
  std::map<std::string, std::uint64_t> got;
  std::map<std::string, std::uint64_t> dropped;
  std::map<std::string, std::uint64_t> last_begin;
  std::uint64_t out_of_order = 0;
  const auto drain = [&] {
    for (const auto& t : collect_threads()) {
      if (t.name.rfind("span writer ", 0) != 0) continue;
      got[t.name] += t.events.size();
      dropped[t.name] = t.dropped;  // cumulative in the ring
      for (const auto& e : t.events) {
        if (e.begin_ns < last_begin[t.name] || e.end_ns < e.begin_ns) ++out_of_order;
        last_begin[t.name] = e.begin_ns;
      }
    }
  };
  while (finished.load(std::memory_order_acquire) < kThreads) drain();
  for (auto& t : threads) t.join();
  drain();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kThreads));
  for (const auto& [name, n] : got)
    EXPECT_EQ(n + dropped[name], kSpans) << name;  // 0 lost unaccounted
  EXPECT_EQ(out_of_order, 0u);
}

}  // namespace
}  // namespace triptych::trace
