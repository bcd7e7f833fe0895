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
#include <cstring>
#include <random>
#include <thread>

#include "sync/dead_peer.hpp"
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
constexpr std::size_t kWords = kFrameBytes / sizeof(std::uint64_t);

std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Word by word (TSan does not see `rep movs`): word 0 the frame number,
// then a pattern of it, then a checksum of all the others.
void write_frame(std::span<std::byte> slot, std::uint64_t frame) {
  std::uint64_t sum = frame;
  std::memcpy(slot.data(), &frame, sizeof frame);
  for (std::size_t i = 1; i + 1 < kWords; ++i) {
    const std::uint64_t w = mix(frame * kWords + i);
    std::memcpy(slot.data() + i * sizeof w, &w, sizeof w);
    sum = sum * 31 + w;
  }
  std::memcpy(slot.data() + (kWords - 1) * sizeof sum, &sum, sizeof sum);
}
// The frame number, or 0 if torn.
std::uint64_t verify_frame(std::span<const std::byte> slot) {
  std::uint64_t frame = 0, last = 0;
  std::memcpy(&frame, slot.data(), sizeof frame);
  std::uint64_t sum = frame;
  for (std::size_t i = 1; i + 1 < kWords; ++i) {
    std::uint64_t w = 0;
    std::memcpy(&w, slot.data() + i * sizeof w, sizeof w);
    if (w != mix(frame * kWords + i)) return 0;
    sum = sum * 31 + w;
  }
  std::memcpy(&last, slot.data() + (kWords - 1) * sizeof last, sizeof last);
  return sum == last ? frame : 0;
}

struct Checks {
  std::uint64_t torn = 0, mislabeled = 0, reordered = 0, last = 0, taken = 0;
  void take(const TripleBuffer::Frame& f) {
    if (!f.is_new) return;
    ++taken;
    const std::uint64_t n = verify_frame(f.data);
    if (n == 0) ++torn;
    else if (n != f.generation) ++mislabeled;
    if (f.generation <= last) ++reordered;
    last = f.generation;
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
    TestArena arena(kFrameBytes);
    auto created = arena.create();
    ASSERT_TRUE(created.ok());
    TripleBuffer tb = created.value();  // the reader's view
    auto writer_view = TripleBuffer::attach(arena.base(), arena.bytes(), 0);
    ASSERT_TRUE(writer_view.ok());
    std::atomic<bool> recovered{false};
    std::atomic<bool> writer_stopped{false};
    std::uint64_t late_successes = 0;  // written by the writer thread, read after join
    std::thread writer([&, view = writer_view.value()]() mutable {
      for (;;) {
        // SYNC(test-recovered): acquire pairs with the reader's release
        // after recover_dead_writer() returned.
        const bool after = recovered.load(std::memory_order_acquire);
        write_frame(view.write_slot(), view.published() + 1);
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
    auto replacement = TripleBuffer::attach(arena.base(), arena.bytes(), 0);
    ASSERT_TRUE(replacement.ok());
    const std::uint64_t final_gen = tb.published() + kReplacementFrames;
    std::thread next([&, view = replacement.value()]() mutable {
      for (std::uint64_t i = 0; i < kReplacementFrames; ++i) {
        write_frame(view.write_slot(), view.published() + 1);
        (void)view.publish();
      }
    });
    while (round_checks.last < final_gen) round_checks.take(tb.acquire_latest());
    next.join();
    round_checks.take(tb.acquire_latest());
    EXPECT_EQ(round_checks.last, tb.published()) << "round " << round;
    EXPECT_EQ(tb.rejected(), 0u);
    checks.torn += round_checks.torn;
    checks.mislabeled += round_checks.mislabeled;
    checks.reordered += round_checks.reordered;
  }
  EXPECT_EQ(recover_failures, 0u);
  EXPECT_EQ(published_after_recovery, 0u)
      << "a writer published after it saw the recovery of its role finish";
  EXPECT_EQ(fenced_rounds, static_cast<std::uint64_t>(kRounds));
  EXPECT_EQ(checks.torn, 0u);
  EXPECT_EQ(checks.mislabeled, 0u);
  EXPECT_EQ(checks.reordered, 0u);
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
    TestArena arena(kFrameBytes);
    auto created = arena.create();
    ASSERT_TRUE(created.ok());
    TripleBuffer tb = created.value();  // the writer's view
    auto reader_view = TripleBuffer::attach(arena.base(), arena.bytes(), 0);
    ASSERT_TRUE(reader_view.ok());
    std::atomic<bool> recovered{false};
    std::atomic<bool> reader_stopped{false};
    std::atomic<std::uint64_t> taken{0};
    Checks stale_checks;  // the reader thread's, read after join
    std::uint64_t late_takes = 0;
    std::thread reader([&, view = reader_view.value()]() mutable {
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
      write_frame(tb.write_slot(), tb.published() + 1);
      (void)tb.publish();
    }
    if (!tb.recover_dead_reader(death).ok()) ++recover_failures;
    recovered.store(true, std::memory_order_release);  // SYNC(test-recovered)
    // SYNC(test-stopped): acquire pairs with the reader's release.
    while (!reader_stopped.load(std::memory_order_acquire)) {
      write_frame(tb.write_slot(), tb.published() + 1);
      (void)tb.publish();
    }
    reader.join();
    taken_after_recovery += late_takes;
    if (tb.fenced() >= 1) ++fenced_rounds;
    auto replacement = TripleBuffer::attach(arena.base(), arena.bytes(), 0);
    ASSERT_TRUE(replacement.ok());
    const std::uint64_t final_gen = tb.published() + kReplacementFrames;
    Checks next_checks;
    std::thread next([&, view = replacement.value()]() mutable {
      while (next_checks.last < final_gen) next_checks.take(view.acquire_latest());
    });
    for (std::uint64_t i = 0; i < kReplacementFrames; ++i) {
      write_frame(tb.write_slot(), tb.published() + 1);
      EXPECT_NE(tb.publish(), 0u);
    }
    next.join();
    EXPECT_EQ(tb.rejected(), 0u);
    for (const Checks* c : {&stale_checks, &next_checks}) {
      total.torn += c->torn;
      total.mislabeled += c->mislabeled;
      total.reordered += c->reordered;
    }
  }
  EXPECT_EQ(recover_failures, 0u);
  EXPECT_EQ(taken_after_recovery, 0u)
      << "a reader took a frame after it saw the recovery of its role finish";
  EXPECT_EQ(fenced_rounds, static_cast<std::uint64_t>(kRounds));
  EXPECT_EQ(total.torn, 0u);
  EXPECT_EQ(total.mislabeled, 0u);
  EXPECT_EQ(total.reordered, 0u);
}

}  // namespace
}  // namespace triptych
