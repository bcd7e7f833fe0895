// SPDX-License-Identifier: Apache-2.0
// Recovery a live peer cannot break (include/triptych/sync/triple_buffer.hpp,
// docs/sync.md "Recovery"): recover_dead_writer() / recover_dead_reader()
// run against a writer or reader thread that is still running, as happens
// when a certificate names the wrong process. The presumed-dead side must
// fail every call it starts after the recovery returned; frames carry a
// number and a checksum, and no torn, mislabeled or reordered frame may ever
// be accepted, before or after a replacement side attaches. Threads: one
// writer and one reader at a time (label `concurrency`, runs under TSan).
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "sync/dead_peer.hpp"
#include "sync/frame_pattern.hpp"
#include "sync/triple_buffer_invariant.hpp"
#include "triptych/sync/triple_buffer.hpp"

namespace triptych {
namespace {

using testing::dead_peer;
using testing::TestArena;

constexpr int kRounds = TRIPTYCH_SANITIZED ? 8 : 30;
constexpr std::uint64_t kReplacementFrames = TRIPTYCH_SANITIZED ? 50 : 200;
constexpr std::uint64_t kGiveUp = 1000;  // late successes before a test gives up
constexpr std::size_t kFrameBytes = 256;
using Frames = testing::FramePattern<kFrameBytes>;

struct Checks {
  std::uint64_t torn = 0, mislabeled = 0, reordered = 0, last = 0, taken = 0;
  void take(const TripleBuffer::Frame& f) {
    if (!f.is_new) return;
    ++taken;
    const std::uint64_t n = Frames::verify(f.data);
    if (n == 0) ++torn;
    else if (n != f.generation) ++mislabeled;
    if (f.generation <= last) ++reordered;
    last = f.generation;
  }
  // Adds the other's bad-frame counts (torn, mislabeled, reordered).
  void add_bad(const Checks& o) {
    torn += o.torn;
    mislabeled += o.mislabeled;
    reordered += o.reordered;
  }
};

// All frames accepted were whole, correctly labeled and in order.
::testing::AssertionResult NoBadFrames(const Checks& c) {
  if (c.torn == 0 && c.mislabeled == 0 && c.reordered == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "torn " << c.torn << ", mislabeled " << c.mislabeled << ", reordered " << c.reordered;
}

// One round's buffer: a fresh arena, the survivor's view (the side that will
// recover the other's role; it creates the buffer) and a view attached for
// the side it will presume dead, which keeps running. attach() gives the
// replacement's view.
struct RoundBuffer {
  TestArena arena{kFrameBytes};
  Result<TripleBuffer> survivor = arena.create();
  Result<TripleBuffer> presumed_dead = attach();
  [[nodiscard]] bool ok() const { return survivor.ok() && presumed_dead.ok(); }
  [[nodiscard]] Result<TripleBuffer> attach() const {
    return TripleBuffer::attach(arena.base(), arena.bytes(), 0);
  }
};

// The reader recovers the writer's role while the writer thread keeps
// publishing. Every publish the writer starts after it saw the recovery
// finish must return 0; the reader, then a replacement writer, keep going.
TEST(TripleBufferRecovery, LiveWriterIsFencedAndNoTornFrameIsAccepted) {
  const CertifiedDeath death = dead_peer();  // a real certificate, for the wrong process
  std::mt19937 rng(5);
  std::uint64_t published_after_recovery = 0, recover_failures = 0, fenced_rounds = 0;
  Checks checks;
  for (int round = 0; round < kRounds; ++round) {
    const RoundBuffer buffer;
    ASSERT_TRUE(buffer.ok());
    TripleBuffer tb = buffer.survivor.value();  // the reader's view
    std::atomic<bool> recovered{false};
    std::atomic<bool> writer_stopped{false};
    std::uint64_t late_successes = 0;  // written by the writer thread, read after join
    std::thread writer([&, view = buffer.presumed_dead.value()]() mutable {
      for (;;) {
        // SYNC(test-recovered): acquire pairs with the reader's release
        // after recover_dead_writer() returned.
        const bool after = recovered.load(std::memory_order_acquire);
        Frames::write(view.write_slot(), view.published() + 1);
        if (view.publish() == 0) break;
        if (after && ++late_successes > kGiveUp) break;  // unfenced: fail, do not hang
      }
      writer_stopped.store(true, std::memory_order_release);  // SYNC(test-stopped)
    });
    Checks round_checks;
    const std::uint64_t recover_after = rng() % 64;
    while (round_checks.taken < recover_after) round_checks.take(tb.acquire_latest());
    if (!tb.recover_dead_writer(death).ok()) ++recover_failures;
    recovered.store(true, std::memory_order_release);  // SYNC(test-recovered)
    // SYNC(test-stopped): acquire pairs with the writer's release.
    while (!writer_stopped.load(std::memory_order_acquire)) round_checks.take(tb.acquire_latest());
    writer.join();
    published_after_recovery += late_successes;
    if (tb.fenced() >= 1) ++fenced_rounds;
    round_checks.take(tb.acquire_latest());
    // The role's new owner attaches after the recovery and keeps numbering.
    auto replacement = buffer.attach();
    ASSERT_TRUE(replacement.ok());
    const std::uint64_t final_gen = tb.published() + kReplacementFrames;
    std::thread next([&, view = replacement.value()]() mutable {
      for (std::uint64_t i = 0; i < kReplacementFrames; ++i) {
        Frames::write(view.write_slot(), view.published() + 1);
        (void)view.publish();
      }
    });
    while (round_checks.last < final_gen) round_checks.take(tb.acquire_latest());
    next.join();
    round_checks.take(tb.acquire_latest());
    EXPECT_EQ(round_checks.last, tb.published()) << "round " << round;
    EXPECT_EQ(tb.rejected(), 0u);
    checks.add_bad(round_checks);
  }
  EXPECT_EQ(recover_failures, 0u);
  EXPECT_EQ(published_after_recovery, 0u)
      << "a writer published after it saw the recovery of its role finish";
  EXPECT_EQ(fenced_rounds, static_cast<std::uint64_t>(kRounds));
  EXPECT_TRUE(NoBadFrames(checks));
}

// The writer recovers the reader's role while the reader thread keeps
// acquiring. Every acquire the reader starts after it saw the recovery
// finish must take nothing; a replacement reader then takes over.
TEST(TripleBufferRecovery, LiveReaderIsFencedAndNoTornFrameIsAccepted) {
  const CertifiedDeath death = dead_peer();
  std::mt19937 rng(6);
  std::uint64_t taken_after_recovery = 0, recover_failures = 0, fenced_rounds = 0;
  Checks total;
  for (int round = 0; round < kRounds; ++round) {
    const RoundBuffer buffer;
    ASSERT_TRUE(buffer.ok());
    TripleBuffer tb = buffer.survivor.value();  // the writer's view
    std::atomic<bool> recovered{false};
    std::atomic<bool> reader_stopped{false};
    std::atomic<std::uint64_t> taken{0};
    Checks stale_checks;  // the reader thread's, read after join
    std::uint64_t late_takes = 0;
    std::thread reader([&, view = buffer.presumed_dead.value()]() mutable {
      std::uint64_t fenced_seen = 0;
      for (;;) {
        // SYNC(test-recovered): acquire pairs with the writer's release.
        const bool after = recovered.load(std::memory_order_acquire);
        const TripleBuffer::Frame f = view.acquire_latest();
        stale_checks.take(f);
        if (f.is_new) {
          taken.fetch_add(1, std::memory_order_relaxed);
          if (after) ++late_takes;
        }
        if (after && view.fenced() > fenced_seen) break;
        if (late_takes > kGiveUp) break;  // unfenced: fail, do not hang
        fenced_seen = view.fenced();
      }
      reader_stopped.store(true, std::memory_order_release);  // SYNC(test-stopped)
    });
    const std::uint64_t recover_after = rng() % 64;
    while (taken.load(std::memory_order_relaxed) < recover_after) {
      Frames::write(tb.write_slot(), tb.published() + 1);
      (void)tb.publish();
    }
    if (!tb.recover_dead_reader(death).ok()) ++recover_failures;
    recovered.store(true, std::memory_order_release);  // SYNC(test-recovered)
    // SYNC(test-stopped): acquire pairs with the reader's release.
    while (!reader_stopped.load(std::memory_order_acquire)) {
      Frames::write(tb.write_slot(), tb.published() + 1);
      (void)tb.publish();
    }
    reader.join();
    taken_after_recovery += late_takes;
    if (tb.fenced() >= 1) ++fenced_rounds;
    auto replacement = buffer.attach();
    ASSERT_TRUE(replacement.ok());
    const std::uint64_t final_gen = tb.published() + kReplacementFrames;
    Checks next_checks;
    std::thread next([&, view = replacement.value()]() mutable {
      while (next_checks.last < final_gen) next_checks.take(view.acquire_latest());
    });
    for (std::uint64_t i = 0; i < kReplacementFrames; ++i) {
      Frames::write(tb.write_slot(), tb.published() + 1);
      EXPECT_NE(tb.publish(), 0u);
    }
    next.join();
    EXPECT_EQ(tb.rejected(), 0u);
    total.add_bad(stale_checks);
    total.add_bad(next_checks);
  }
  EXPECT_EQ(recover_failures, 0u);
  EXPECT_EQ(taken_after_recovery, 0u)
      << "a reader took a frame after it saw the recovery of its role finish";
  EXPECT_EQ(fenced_rounds, static_cast<std::uint64_t>(kRounds));
  EXPECT_TRUE(NoBadFrames(total));
}

}  // namespace
}  // namespace triptych
