// SPDX-License-Identifier: Apache-2.0
// Threaded tests for include/triptych/sync/triple_buffer.hpp (run under
// TSan): a writer and a reader thread exchange checksummed frames and the
// reader counts torn, reordered and duplicated frames (all must be 0), and
// wait_for_new() is checked for lost wake-ups: each wait passes a long
// timeout and must return well inside it (support/wake_timing.hpp), since a
// lost wake would still end in kChanged at the timeout. The wait tests are
// also built as sync_triple_buffer_concurrency_test_lostwake, where they must
// fail (docs/verification.md). Design: docs/sync.md ("Triple buffer").
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "support/wake_timing.hpp"
#include "sync/dead_peer.hpp"
#include "sync/frame_pattern.hpp"
#include "sync/triple_buffer_invariant.hpp"
#include "triptych/sync/triple_buffer.hpp"

namespace triptych {
namespace {

using namespace std::chrono_literals;
using testing::IndicesAreDistinct;
using testing::TestArena;
using wake_test::kSlowWakeMs;
using wake_test::kWakeTimeout;
using wake_test::Stopwatch;

// Sanitizer builds run ~10x slower on a shared 2-core machine, so they check
// 5x fewer frames; the dev build does the full 10^6.
constexpr std::uint64_t kTornPublishes = TRIPTYCH_SANITIZED ? 200'000 : 1'000'000;
constexpr std::uint64_t kLockstepFrames = TRIPTYCH_SANITIZED ? 300 : 3'000;
constexpr std::uint64_t kBurstFrames = TRIPTYCH_SANITIZED ? 5'000 : 50'000;
constexpr std::size_t kFrameBytes = 1024;
using Frames = testing::FramePattern<kFrameBytes>;

struct ReaderCounts {
  std::uint64_t taken = 0;                 // acquires that returned a new frame
  std::uint64_t torn = 0;                  // pattern or checksum broken
  std::uint64_t mislabeled = 0;            // generation differs from the frame number inside
  std::uint64_t reordered = 0;             // generation not above the previous one
  std::uint64_t changed_under_reader = 0;  // held frame altered before the next acquire
  std::uint64_t last = 0;
};

// Writer publishes frames 1..n; the reader verifies everything it acquires,
// including the frame it keeps holding while nothing new arrives.
void run_torn_frame_check(std::uint64_t n, unsigned reader_pause, unsigned writer_pause) {
  TestArena arena(kFrameBytes);
  auto created = arena.create();
  ASSERT_TRUE(created.ok()) << created.error().what();
  TripleBuffer tb = created.value();
  std::atomic<bool> writer_done{false};
  std::uint64_t bad_publish_returns = 0;

  std::thread writer([&] {
    std::minstd_rand rng(1);
    for (std::uint64_t g = 1; g <= n; ++g) {
      Frames::write(tb.write_slot(), g);
      if (tb.publish() != g) ++bad_publish_returns;
      if (writer_pause != 0 && rng() % writer_pause == 0) {
        for (unsigned i = 0; i < 200; ++i) cpu_relax();
      }
    }
    writer_done.store(true, std::memory_order_release);
  });

  ReaderCounts c;
  std::uint64_t mismatched_slot_generation = 0;
  std::thread reader([&] {
    std::minstd_rand rng(2);
    for (;;) {
      const bool done = writer_done.load(std::memory_order_acquire);
      const TripleBuffer::Frame f = tb.acquire_latest();
      if (f.is_new) {
        ++c.taken;
        const std::uint64_t inside = Frames::verify(f.data);
        if (inside == 0) ++c.torn;
        if (inside != f.generation) ++c.mislabeled;
        if (f.generation <= c.last) ++c.reordered;
        if (tb.slot_generation(tb.indices().reader) != f.generation) ++mismatched_slot_generation;
        c.last = f.generation;
      } else if (f.generation != 0 && Frames::verify(f.data) != f.generation) {
        ++c.changed_under_reader;
      }
      if (c.last == n) break;
      if (done && !f.is_new && !tb.has_new()) break;  // the last frame was lost
      if (reader_pause != 0 && rng() % reader_pause == 0) {
        for (unsigned i = 0; i < 400; ++i) cpu_relax();
      }
    }
  });
  writer.join();
  reader.join();

  EXPECT_EQ(c.torn, 0u);
  EXPECT_EQ(c.mislabeled, 0u);
  EXPECT_EQ(c.reordered, 0u);
  EXPECT_EQ(c.changed_under_reader, 0u);
  EXPECT_EQ(mismatched_slot_generation, 0u);
  EXPECT_EQ(bad_publish_returns, 0u);
  EXPECT_EQ(c.last, n) << "the newest frame never reached the reader";
  EXPECT_EQ(tb.published(), n);
  EXPECT_EQ(tb.consumed(), c.taken);
  // Every frame was either taken, overwritten unread, or is still pending.
  EXPECT_EQ(tb.published(), tb.consumed() + tb.dropped() + (tb.has_new() ? 1u : 0u));
  EXPECT_FALSE(tb.has_new());
  EXPECT_EQ(tb.rejected(), 0u);
  EXPECT_TRUE(IndicesAreDistinct(tb));
}

TEST(TripleBuffer, Stress_NoTornFramesWhenBothSidesRunFlatOut) {
  run_torn_frame_check(kTornPublishes, 0, 0);
}

TEST(TripleBuffer, Stress_NoTornFramesWithASlowReader) {
  run_torn_frame_check(kTornPublishes / 2, 4, 0);
}

TEST(TripleBuffer, Stress_NoTornFramesWithASlowWriter) {
  run_torn_frame_check(kTornPublishes / 4, 0, 8);
}

TEST(TripleBuffer, WaitForNew_WakesASleepingReader) {
  TestArena arena(kFrameBytes);
  auto created = arena.create();
  ASSERT_TRUE(created.ok());
  TripleBuffer tb = created.value();
  WaitStatus status = WaitStatus::kTimedOut;
  TripleBuffer::Frame f{};
  std::int64_t ms = -1;
  std::atomic<pid_t> tid{0};
  std::thread reader([&] {
    // SYNC(test-tid): pairs with the acquire load below.
    tid.store(wake_test::this_tid(), std::memory_order_release);
    const Stopwatch sw;
    status = tb.wait_for_new(kWakeTimeout, kNoSpin);
    ms = sw.ms();
    f = tb.acquire_latest();
  });
  pid_t reader_tid = 0;
  while ((reader_tid = tid.load(std::memory_order_acquire)) == 0) std::this_thread::yield();  // SYNC(test-tid)
  // Publish only once the reader sleeps in the kernel: "registered as a
  // waiter" is not enough, it may still see the publish and never sleep.
  EXPECT_TRUE(wake_test::wait_until_asleep(reader_tid, &tb.control().publish_word.value));
  Frames::write(tb.write_slot(), 1);
  EXPECT_EQ(tb.publish(), 1u);
  reader.join();
  EXPECT_EQ(status, WaitStatus::kChanged);
  EXPECT_LT(ms, kSlowWakeMs) << "the wait was ended by its timeout, not by the publish's wake";
  EXPECT_TRUE(f.is_new);
  EXPECT_EQ(f.generation, 1u);
  EXPECT_EQ(Frames::verify(f.data), 1u);
  EXPECT_EQ(tb.control().publish_word.waiters.load(std::memory_order_relaxed), 0u);
}

// Writer and reader alternate strictly, so every wait must end with exactly
// the next frame; a lost wake-up shows up as a timeout.
TEST(TripleBuffer, WaitForNew_NoLostWakeupsInLockstep) {
  TestArena arena(kFrameBytes);
  auto created = arena.create();
  ASSERT_TRUE(created.ok());
  TripleBuffer tb = created.value();
  std::uint64_t writer_gave_up = 0;
  std::atomic<bool> reader_stopped{false};
  std::thread writer([&] {
    for (std::uint64_t g = 1; g <= kLockstepFrames; ++g) {
      Frames::write(tb.write_slot(), g);
      (void)tb.publish();
      const auto deadline = std::chrono::steady_clock::now() + kWakeTimeout;
      while (tb.consumed() < g) {
        if (reader_stopped.load(std::memory_order_relaxed)) return;
        if (std::chrono::steady_clock::now() > deadline) {
          ++writer_gave_up;
          return;
        }
        std::this_thread::yield();
      }
    }
  });
  std::uint64_t timeouts = 0, slow = 0, not_new = 0, wrong = 0, torn = 0;
  for (std::uint64_t g = 1; g <= kLockstepFrames; ++g) {
    // Alternate a pure sleeper with the default spin-then-sleep policy.
    const SpinPolicy policy = g % 2 == 0 ? kNoSpin : SpinPolicy{};
    const Stopwatch sw;
    if (tb.wait_for_new(kWakeTimeout, policy) == WaitStatus::kTimedOut) ++timeouts;
    if (sw.slow()) ++slow;
    const TripleBuffer::Frame f = tb.acquire_latest();
    if (!f.is_new) ++not_new;
    if (f.generation != g) ++wrong;
    if (Frames::verify(f.data) != f.generation) ++torn;
    if (timeouts + slow + writer_gave_up != 0) break;
  }
  reader_stopped.store(true, std::memory_order_relaxed);
  writer.join();
  EXPECT_EQ(slow, 0u) << "a wait outlived " << kSlowWakeMs << " ms: a lost wake-up";
  EXPECT_EQ(timeouts, 0u);
  EXPECT_EQ(writer_gave_up, 0u);
  EXPECT_EQ(not_new, 0u);
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(torn, 0u);
  EXPECT_EQ(tb.dropped(), 0u);
  EXPECT_EQ(tb.consumed(), kLockstepFrames);
}

// Bursts with pauses between them: the reader may miss frames (dropped) but
// never sleeps through the last one.
TEST(TripleBuffer, WaitForNew_ReaderAlwaysReachesTheLastFrameOfBursts) {
  TestArena arena(kFrameBytes);
  auto created = arena.create();
  ASSERT_TRUE(created.ok());
  TripleBuffer tb = created.value();
  std::thread writer([&] {
    std::minstd_rand rng(3);
    std::uint64_t g = 0;
    while (g < kBurstFrames) {
      const std::uint64_t burst = 1 + rng() % 16;
      for (std::uint64_t i = 0; i < burst && g < kBurstFrames; ++i) {
        Frames::write(tb.write_slot(), ++g);
        (void)tb.publish();
      }
      if (rng() % 4 == 0) std::this_thread::yield();
    }
  });
  std::uint64_t timeouts = 0, slow = 0, not_new = 0, reordered = 0, torn = 0, last = 0;
  while (last < kBurstFrames) {
    const Stopwatch sw;
    const WaitStatus s = tb.wait_for_new(kWakeTimeout, last % 3 == 0 ? kNoSpin : SpinPolicy{});
    if (sw.slow()) ++slow;
    if (s == WaitStatus::kTimedOut) {
      ++timeouts;
      break;
    }
    const TripleBuffer::Frame f = tb.acquire_latest();
    if (!f.is_new) ++not_new;
    if (f.generation <= last) ++reordered;
    if (Frames::verify(f.data) != f.generation) ++torn;
    last = f.generation;
  }
  writer.join();
  EXPECT_EQ(slow, 0u) << "waits outlived " << kSlowWakeMs << " ms: lost wake-ups";
  EXPECT_EQ(timeouts, 0u);
  EXPECT_EQ(not_new, 0u);
  EXPECT_EQ(reordered, 0u);
  EXPECT_EQ(torn, 0u);
  EXPECT_EQ(last, kBurstFrames);
  EXPECT_EQ(tb.published(), tb.consumed() + tb.dropped());
}

// A writer "killed" right after an exchange (the rest of publish() never
// runs) while the reader keeps consuming; the reader repairs the writer's
// slot between its own calls and a replacement writer continues. The reader
// must see only whole frames, in order, up to the replacement's last.
TEST(TripleBuffer, Recovery_ReplacementWriterContinuesAfterAKill) {
  TestArena arena(kFrameBytes);
  auto created = arena.create();
  ASSERT_TRUE(created.ok());
  TripleBuffer tb = created.value();
  const CertifiedDeath death = testing::dead_peer();  // before any thread starts
  const std::uint64_t kBefore = kBurstFrames, kAfter = kBurstFrames;
  std::atomic<int> phase{0};  // 0 writing, 1 writer dead, 2 repaired
  std::thread first([&] {
    for (std::uint64_t g = 1; g <= kBefore; ++g) {
      Frames::write(tb.write_slot(), g);
      (void)tb.publish();
    }
    // The kill: publish()'s exchange happens, nothing after it does.
    TripleBufferControl& c = tb.control();
    const std::uint32_t w = c.writer_index.load(std::memory_order_relaxed);
    Frames::write(tb.write_slot(), kBefore + 1);
    c.slot_generation[w].store(kBefore + 1, std::memory_order_relaxed);
    (void)c.state.exchange(tb_state::pack(w, true, kBefore + 1), std::memory_order_acq_rel);
    // SYNC(test-phase): release pairs with the reader's acquire (the
    // "waitpid" that tells the survivor the writer is gone).
    phase.store(1, std::memory_order_release);
  });
  std::thread replacement;
  std::atomic<bool> attach_failed{false};
  std::uint64_t torn = 0, reordered = 0, last = 0, recover_failures = 0;
  const std::uint64_t final_gen = kBefore + 1 + kAfter;
  const auto deadline = std::chrono::steady_clock::now() + 60s;  // never hang ctest
  while (last < final_gen && !attach_failed.load(std::memory_order_relaxed) &&
         std::chrono::steady_clock::now() < deadline) {
    // SYNC(test-phase): acquire pairs with the dead writer's release.
    if (phase.load(std::memory_order_acquire) == 1) {
      first.join();
      if (!tb.recover_dead_writer(death).ok()) {
        ++recover_failures;
        break;
      }
      phase.store(2, std::memory_order_relaxed);
      replacement = std::thread([&] {
        auto view = TripleBuffer::attach(arena.base(), arena.bytes(), 0);
        if (!view.ok()) {
          attach_failed.store(true, std::memory_order_relaxed);
          return;
        }
        for (std::uint64_t i = 0; i < kAfter; ++i) {
          Frames::write(view->write_slot(), view->published() + 1);
          (void)view->publish();
        }
      });
    }
    const TripleBuffer::Frame f = tb.acquire_latest();
    if (!f.is_new) continue;
    if (Frames::verify(f.data) != f.generation) ++torn;
    if (f.generation <= last) ++reordered;
    last = f.generation;
  }
  if (first.joinable()) first.join();
  if (replacement.joinable()) replacement.join();
  EXPECT_EQ(recover_failures, 0u);
  EXPECT_FALSE(attach_failed.load(std::memory_order_relaxed));
  EXPECT_EQ(torn, 0u);
  EXPECT_EQ(reordered, 0u);
  EXPECT_EQ(last, final_gen);
  EXPECT_EQ(tb.published(), final_gen);
  EXPECT_TRUE(IndicesAreDistinct(tb));
  EXPECT_EQ(tb.rejected(), 0u);
}

}  // namespace
}  // namespace triptych
