// SPDX-License-Identifier: Apache-2.0
// Single-threaded tests for include/triptych/sync/triple_buffer.hpp: the
// protocol step by step against a reference model, the counters, and dead
// peer recovery (run under ASan+UBSan). Bad input to create()/attach() is
// triple_buffer_bad_input_test.cpp's; the threaded tests are in
// triple_buffer_concurrency_test.cpp. Design:
// docs/sync.md ("Triple buffer").
#include "triptych/sync/triple_buffer.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "sync/dead_peer.hpp"
#include "sync/triple_buffer_invariant.hpp"

namespace triptych {
namespace {

using namespace std::chrono_literals;
using testing::dead_peer;
using testing::IndicesAreDistinct;
using testing::TestArena;

constexpr std::size_t kSlot = 256;

void fill(std::span<std::byte> s, std::uint8_t v) {
  std::memset(s.data(), v, s.size());
}

bool all_equal(std::span<const std::byte> s, std::uint8_t v) {
  for (std::byte b : s) {
    if (b != std::byte{v}) return false;
  }
  return true;
}

TEST(TripleBuffer, StatePacking_RoundTripsIndexDirtyAndGeneration) {
  constexpr std::uint64_t kBigGen = tb_state::kGenerationMax;
  const std::uint64_t s = tb_state::pack(2, true, kBigGen);
  EXPECT_EQ(tb_state::index(s), 2u);
  EXPECT_TRUE(tb_state::dirty(s));
  EXPECT_EQ(tb_state::generation(s), kBigGen);
  const std::uint64_t c = tb_state::pack(1, false, 7);
  EXPECT_EQ(tb_state::index(c), 1u);
  EXPECT_FALSE(tb_state::dirty(c));
  EXPECT_EQ(tb_state::generation(c), 7u);
}

// The byte offsets docs/sync.md documents for other languages and processes.
TEST(TripleBuffer, Layout_MatchesTheDocumentedOffsets) {
  EXPECT_EQ(TripleBuffer::kControlBytes, 256u);
  EXPECT_EQ(offsetof(TripleBufferControl, magic), 0u);
  EXPECT_EQ(offsetof(TripleBufferControl, version), 4u);
  EXPECT_EQ(offsetof(TripleBufferControl, slot_bytes), 8u);
  EXPECT_EQ(offsetof(TripleBufferControl, slot_offsets), 16u);
  EXPECT_EQ(offsetof(TripleBufferControl, control_offset), 40u);
  EXPECT_EQ(offsetof(TripleBufferControl, writer_epoch), 48u);
  EXPECT_EQ(offsetof(TripleBufferControl, reader_epoch), 56u);
  EXPECT_EQ(offsetof(TripleBufferControl, state), 64u);
  EXPECT_EQ(offsetof(TripleBufferControl, publish_word), 72u);
  EXPECT_EQ(offsetof(TripleBufferControl, published), 128u);
  EXPECT_EQ(offsetof(TripleBufferControl, dropped), 136u);
  EXPECT_EQ(offsetof(TripleBufferControl, slot_generation), 144u);
  EXPECT_EQ(offsetof(TripleBufferControl, writer_index), 168u);
  EXPECT_EQ(offsetof(TripleBufferControl, writer_rejected), 176u);
  EXPECT_EQ(offsetof(TripleBufferControl, writer_fenced), 184u);
  EXPECT_EQ(offsetof(TripleBufferControl, consumed), 192u);
  EXPECT_EQ(offsetof(TripleBufferControl, front_generation), 200u);
  EXPECT_EQ(offsetof(TripleBufferControl, reader_index), 208u);
  EXPECT_EQ(offsetof(TripleBufferControl, reader_rejected), 216u);
  EXPECT_EQ(offsetof(TripleBufferControl, reader_fenced), 224u);
}

TEST(TripleBuffer, FirstAcquireSeesNothingNew) {
  TestArena arena(kSlot);
  TripleBuffer tb = arena.make();
  EXPECT_TRUE(IndicesAreDistinct(tb));
  EXPECT_FALSE(tb.has_new());
  const TripleBuffer::Frame f = tb.acquire_latest();
  EXPECT_FALSE(f.is_new);
  EXPECT_EQ(f.generation, 0u);
  EXPECT_EQ(f.data.size(), kSlot);
  EXPECT_EQ(tb.published(), 0u);
  EXPECT_EQ(tb.consumed(), 0u);
  EXPECT_EQ(tb.dropped(), 0u);
  EXPECT_EQ(tb.rejected(), 0u);
  EXPECT_TRUE(IndicesAreDistinct(tb));
}

TEST(TripleBuffer, PublishThenAcquireGetsThatSlotAndGeneration) {
  TestArena arena(kSlot);
  TripleBuffer tb = arena.make();
  const std::span<std::byte> w = tb.write_slot();
  ASSERT_EQ(w.size(), kSlot);
  fill(w, 0xA5);
  EXPECT_EQ(tb.publish(), 1u);
  EXPECT_TRUE(IndicesAreDistinct(tb));
  EXPECT_TRUE(tb.has_new());
  EXPECT_NE(tb.write_slot().data(), w.data()) << "the published slot left the writer";

  const TripleBuffer::Frame f = tb.acquire_latest();
  EXPECT_TRUE(f.is_new);
  EXPECT_EQ(f.generation, 1u);
  EXPECT_EQ(f.data.data(), w.data()) << "zero-copy: the reader gets the writer's slot";
  EXPECT_TRUE(all_equal(f.data, 0xA5));
  EXPECT_EQ(tb.slot_generation(tb.indices().reader), 1u);
  EXPECT_FALSE(tb.has_new());
  EXPECT_TRUE(IndicesAreDistinct(tb));

  const TripleBuffer::Frame again = tb.acquire_latest();
  EXPECT_FALSE(again.is_new);
  EXPECT_EQ(again.generation, 1u);
  EXPECT_EQ(again.data.data(), w.data());
  EXPECT_EQ(tb.published(), 1u);
  EXPECT_EQ(tb.consumed(), 1u);
  EXPECT_EQ(tb.dropped(), 0u);
}

TEST(TripleBuffer, TwoPublishesWithoutReadDropOneAndReaderGetsLatest) {
  TestArena arena(kSlot);
  TripleBuffer tb = arena.make();
  fill(tb.write_slot(), 1);
  EXPECT_EQ(tb.publish(), 1u);
  fill(tb.write_slot(), 2);
  EXPECT_EQ(tb.publish(), 2u);
  EXPECT_EQ(tb.dropped(), 1u);
  EXPECT_TRUE(IndicesAreDistinct(tb));

  const TripleBuffer::Frame f = tb.acquire_latest();
  EXPECT_TRUE(f.is_new);
  EXPECT_EQ(f.generation, 2u);
  EXPECT_TRUE(all_equal(f.data, 2));
  EXPECT_EQ(tb.published(), 2u);
  EXPECT_EQ(tb.consumed(), 1u);
  EXPECT_EQ(tb.dropped(), 1u);
}

TEST(TripleBuffer, WriterNeverGetsTheReadersSlot) {
  TestArena arena(kSlot);
  TripleBuffer tb = arena.make();
  fill(tb.write_slot(), 9);
  (void)tb.publish();
  const TripleBuffer::Frame f = tb.acquire_latest();
  // However often the writer publishes, it cycles through the other two.
  for (int i = 0; i < 10; ++i) {
    EXPECT_NE(tb.write_slot().data(), f.data.data());
    fill(tb.write_slot(), 0xEE);
    (void)tb.publish();
  }
  EXPECT_TRUE(all_equal(f.data, 9)) << "the reader's frame changed under it";
  EXPECT_EQ(tb.dropped(), 9u);
}

// Random interleavings against a model that tracks the same counters; after
// every step the three indices are distinct and the reader holds the newest
// frame it was offered.
TEST(TripleBuffer, CountersMatchAModelOverRandomInterleavings) {
  TestArena arena(kSlot);
  TripleBuffer tb = arena.make();
  std::mt19937_64 rng(12345);
  std::uint64_t published = 0, consumed = 0, dropped = 0, held = 0;
  bool pending = false;
  for (int step = 0; step < 100'000; ++step) {
    if (rng() % 2 == 0) {
      const std::span<std::byte> w = tb.write_slot();
      const std::uint64_t next = published + 1;
      std::memcpy(w.data(), &next, sizeof next);
      ASSERT_EQ(tb.publish(), next);
      if (pending) ++dropped;
      pending = true;
      published = next;
    } else {
      const TripleBuffer::Frame f = tb.acquire_latest();
      ASSERT_EQ(f.is_new, pending);
      if (pending) {
        ++consumed;
        held = published;
        pending = false;
      }
      ASSERT_EQ(f.generation, held);
      if (held != 0) {
        std::uint64_t in_slot = 0;
        std::memcpy(&in_slot, f.data.data(), sizeof in_slot);
        ASSERT_EQ(in_slot, held);
        ASSERT_EQ(tb.slot_generation(tb.indices().reader), held);
      }
    }
    ASSERT_TRUE(IndicesAreDistinct(tb)) << "step " << step;
    ASSERT_EQ(tb.published(), published);
    ASSERT_EQ(tb.consumed(), consumed);
    ASSERT_EQ(tb.dropped(), dropped);
    ASSERT_EQ(tb.published(), tb.consumed() + tb.dropped() + (pending ? 1u : 0u));
  }
  EXPECT_EQ(tb.rejected(), 0u);
}

TEST(TripleBuffer, AttachedViewSharesStateWithTheCreator) {
  TestArena arena(kSlot);
  TripleBuffer writer = arena.make();
  auto reader = TripleBuffer::attach(arena.base(), arena.bytes(), 0);
  ASSERT_TRUE(reader.ok()) << reader.error().what();
  fill(writer.write_slot(), 0x3C);
  EXPECT_EQ(writer.publish(), 1u);
  const TripleBuffer::Frame f = reader->acquire_latest();
  EXPECT_TRUE(f.is_new);
  EXPECT_EQ(f.generation, 1u);
  EXPECT_TRUE(all_equal(f.data, 0x3C));
  EXPECT_EQ(writer.consumed(), 1u);
}

// A side that detaches and re-attaches (a restarted process) resumes with the
// slot it owned, because ownership lives in the control block, not the view.
TEST(TripleBuffer, ReattachResumesOwnership) {
  TestArena arena(kSlot);
  {
    TripleBuffer tb = arena.make();
    fill(tb.write_slot(), 1);
    (void)tb.publish();
    (void)tb.acquire_latest();
    fill(tb.write_slot(), 2);
    (void)tb.publish();
  }
  auto tb = TripleBuffer::attach(arena.base(), arena.bytes(), 0);
  ASSERT_TRUE(tb.ok()) << tb.error().what();
  EXPECT_TRUE(IndicesAreDistinct(tb.value()));
  const TripleBuffer::Frame f = tb->acquire_latest();
  EXPECT_TRUE(f.is_new);
  EXPECT_EQ(f.generation, 2u);
  EXPECT_TRUE(all_equal(f.data, 2));
  EXPECT_EQ(tb->publish(), 3u);
  EXPECT_EQ(tb->published(), 3u);
}

TEST(TripleBuffer, WaitForNew_ReturnsAtOnceWhenAFrameWaits) {
  TestArena arena(kSlot);
  TripleBuffer tb = arena.make();
  (void)tb.publish();
  EXPECT_EQ(tb.wait_for_new(10s, kNoSpin), WaitStatus::kChanged);
  EXPECT_TRUE(tb.acquire_latest().is_new);
}

TEST(TripleBuffer, WaitForNew_TimesOutWhenNothingIsPublished) {
  TestArena arena(kSlot);
  TripleBuffer tb = arena.make();
  EXPECT_EQ(tb.wait_for_new(0ns, kNoSpin), WaitStatus::kTimedOut);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(tb.wait_for_new(20ms, kNoSpin), WaitStatus::kTimedOut);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
  EXPECT_EQ(tb.control().publish_word.waiters.load(std::memory_order_relaxed), 0u);
  // A frame already taken is not new: waiting again times out.
  (void)tb.publish();
  (void)tb.acquire_latest();
  EXPECT_EQ(tb.wait_for_new(1ms, kNoSpin), WaitStatus::kTimedOut);
}

// A corrupt peer writing an out-of-range index into the state word is
// refused and counted; neither side indexes out of bounds.
TEST(TripleBuffer, CorruptStateIndexIsRejectedAndCounted) {
  TestArena arena(kSlot);
  TripleBuffer tb = arena.make();
  tb.control().state.store(tb_state::pack(3, true, 5), std::memory_order_relaxed);
  const TripleBuffer::Frame f = tb.acquire_latest();
  EXPECT_FALSE(f.is_new);
  EXPECT_EQ(f.generation, 0u);
  EXPECT_EQ(tb.rejected(), 1u);
  EXPECT_EQ(tb.consumed(), 0u);

  tb.control().state.store(tb_state::pack(3, false, 5), std::memory_order_relaxed);
  (void)tb.publish();
  EXPECT_EQ(tb.rejected(), 2u);
  EXPECT_LT(tb.indices().writer, 3u);
  EXPECT_EQ(tb.slot_generation(7), 0u) << "out-of-range slot query answers 0";
}

// ---- recovery after a side died between its exchange and its index store ----

// Does publish()'s exchange and nothing after it, as a writer killed there would.
std::uint64_t die_inside_publish(TripleBuffer& tb) {
  TripleBufferControl& c = tb.control();
  const std::uint32_t w = c.writer_index.load(std::memory_order_relaxed);
  const std::uint64_t g = c.published.load(std::memory_order_relaxed) + 1;
  fill(tb.write_slot(), static_cast<std::uint8_t>(g));
  c.slot_generation[w].store(g, std::memory_order_relaxed);
  (void)c.state.exchange(tb_state::pack(w, true, g), std::memory_order_acq_rel);
  return g;
}

// Does acquire_latest()'s exchange and nothing after it.
void die_inside_acquire(TripleBuffer& tb) {
  TripleBufferControl& c = tb.control();
  const std::uint32_t r = c.reader_index.load(std::memory_order_relaxed);
  const std::uint64_t held = c.front_generation.load(std::memory_order_relaxed);
  (void)c.state.exchange(tb_state::pack(r, false, held), std::memory_order_acq_rel);
}

// The writer dies right after its exchange; the reader (the survivor)
// repairs the writer's index between its own calls; a new writer attaches.
TEST(TripleBuffer, Recovery_WriterKilledInsidePublish) {
  TestArena arena(kSlot);
  TripleBuffer reader = arena.make();
  fill(reader.write_slot(), 1);
  (void)reader.publish();
  (void)reader.acquire_latest();
  const std::uint64_t g = die_inside_publish(reader);
  EXPECT_FALSE(IndicesAreDistinct(reader)) << "the dead writer's index is stale";

  ASSERT_TRUE(reader.recover_dead_writer(dead_peer()).ok());
  EXPECT_TRUE(IndicesAreDistinct(reader));
  auto writer = TripleBuffer::attach(arena.base(), arena.bytes(), 0);
  ASSERT_TRUE(writer.ok()) << writer.error().what();
  EXPECT_EQ(writer->published(), g) << "generations must keep increasing";

  const TripleBuffer::Frame f = reader.acquire_latest();
  EXPECT_TRUE(f.is_new);
  EXPECT_EQ(f.generation, g);
  EXPECT_TRUE(all_equal(f.data, static_cast<std::uint8_t>(g)));
  EXPECT_NE(writer->write_slot().data(), f.data.data());
  fill(writer->write_slot(), 0x77);
  EXPECT_EQ(writer->publish(), g + 1);
  EXPECT_TRUE(IndicesAreDistinct(reader));
  EXPECT_TRUE(all_equal(f.data, static_cast<std::uint8_t>(g)));
  const TripleBuffer::Frame next = reader.acquire_latest();
  EXPECT_EQ(next.generation, g + 1);
  EXPECT_TRUE(all_equal(next.data, 0x77));
}

// The reader dies right after its exchange, after the writer published again
// (so the writer now holds the slot the dead reader's index names).
TEST(TripleBuffer, Recovery_ReaderKilledInsideAcquire) {
  TestArena arena(kSlot);
  TripleBuffer writer = arena.make();
  fill(writer.write_slot(), 5);
  EXPECT_EQ(writer.publish(), 1u);
  die_inside_acquire(writer);
  fill(writer.write_slot(), 6);
  EXPECT_EQ(writer.publish(), 2u);
  EXPECT_FALSE(IndicesAreDistinct(writer)) << "the dead reader's index is stale";

  ASSERT_TRUE(writer.recover_dead_reader(dead_peer()).ok());
  EXPECT_TRUE(IndicesAreDistinct(writer));
  auto reader = TripleBuffer::attach(arena.base(), arena.bytes(), 0);
  ASSERT_TRUE(reader.ok()) << reader.error().what();
  // The new reader starts from the frame the dead one had taken.
  const TripleBuffer::Frame held = reader->acquire_latest();
  EXPECT_TRUE(held.is_new) << "frame 2 is still waiting";
  EXPECT_EQ(held.generation, 2u);
  EXPECT_TRUE(all_equal(held.data, 6));
  for (std::uint8_t v = 10; v < 20; ++v) {
    fill(writer.write_slot(), v);
    (void)writer.publish();
    ASSERT_TRUE(IndicesAreDistinct(writer));
    const TripleBuffer::Frame f = reader->acquire_latest();
    ASSERT_TRUE(f.is_new);
    ASSERT_TRUE(all_equal(f.data, v));
  }
}

TEST(TripleBuffer, Recovery_KeepsTheSlotOfASideThatDiedBetweenCalls) {
  TestArena arena(kSlot);
  TripleBuffer tb = arena.make();
  fill(tb.write_slot(), 1);
  (void)tb.publish();
  (void)tb.acquire_latest();
  (void)tb.publish();
  const TripleBuffer::Indices before = tb.indices();
  ASSERT_TRUE(tb.recover_dead_writer(dead_peer()).ok());
  ASSERT_TRUE(tb.recover_dead_reader(dead_peer()).ok());
  const TripleBuffer::Indices after = tb.indices();
  EXPECT_EQ(after.writer, before.writer);
  EXPECT_EQ(after.back, before.back);
  EXPECT_EQ(after.reader, before.reader);
  EXPECT_EQ(tb.published(), 2u);
  // Both roles were taken over: the old view is fenced on both sides, a view
  // attached after the recoveries owns them.
  EXPECT_FALSE(tb.acquire_latest().is_new);
  EXPECT_EQ(tb.publish(), 0u);
  EXPECT_EQ(tb.fenced(), 2u);
  auto fresh = TripleBuffer::attach(arena.base(), arena.bytes(), 0);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->acquire_latest().generation, 2u);
  EXPECT_EQ(fresh->publish(), 3u);
}

TEST(TripleBuffer, Recovery_RefusesOutOfRangeOrStaleSurvivorIndex) {
  TestArena arena(kSlot);
  TripleBuffer tb = arena.make();
  tb.control().reader_index.store(3, std::memory_order_relaxed);
  auto r = tb.recover_dead_writer(dead_peer());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kCorruptHeader);
  tb.control().reader_index.store(2, std::memory_order_relaxed);
  (void)die_inside_publish(tb);  // writer index now equals the back index
  auto w = tb.recover_dead_reader(dead_peer());
  ASSERT_FALSE(w.ok()) << "the survivor's own index must be valid";
  EXPECT_EQ(w.error().code, Errc::kCorruptHeader);
}

}  // namespace
}  // namespace triptych
