// SPDX-License-Identifier: Apache-2.0
// Single-threaded tests for include/triptych/sync/triple_buffer.hpp: the
// protocol step by step against a reference model, the counters, and every
// way create()/attach() must refuse bad input (run under ASan+UBSan). The
// threaded tests are in triple_buffer_concurrency_test.cpp. Design:
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

TripleBuffer make(const TestArena& arena) {
  auto tb = arena.create();
  EXPECT_TRUE(tb.ok()) << (tb.ok() ? "" : tb.error().what());
  return std::move(tb).value();
}

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
  TripleBuffer tb = make(arena);
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
  TripleBuffer tb = make(arena);
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
  TripleBuffer tb = make(arena);
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
  TripleBuffer tb = make(arena);
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
  TripleBuffer tb = make(arena);
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
  TripleBuffer writer = make(arena);
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
    TripleBuffer tb = make(arena);
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
  TripleBuffer tb = make(arena);
  (void)tb.publish();
  EXPECT_EQ(tb.wait_for_new(10s, kNoSpin), WaitStatus::kChanged);
  EXPECT_TRUE(tb.acquire_latest().is_new);
}

TEST(TripleBuffer, WaitForNew_TimesOutWhenNothingIsPublished) {
  TestArena arena(kSlot);
  TripleBuffer tb = make(arena);
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
  TripleBuffer tb = make(arena);
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
  TripleBuffer reader = make(arena);
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
  TripleBuffer writer = make(arena);
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
  TripleBuffer tb = make(arena);
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
  TripleBuffer tb = make(arena);
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

// ---- create(): bad arguments ----

void expect_create_error(const TestArena& arena, std::uint64_t control,
                         std::array<std::uint64_t, 3> slots, std::uint64_t slot_bytes,
                         Errc expected, std::size_t bytes = 0) {
  auto r =
      TripleBuffer::create(arena.base(), bytes ? bytes : arena.bytes(), control, slots, slot_bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, expected) << r.error().what();
  EXPECT_FALSE(r.error().message.empty());
}

TEST(TripleBuffer, Create_RejectsNullAndMisalignedBase) {
  TestArena arena(kSlot);
  auto null = TripleBuffer::create(nullptr, arena.bytes(), 0, arena.slot_offsets(), kSlot);
  ASSERT_FALSE(null.ok());
  EXPECT_EQ(null.error().code, Errc::kInvalidArgument);
  auto off = TripleBuffer::create(arena.base() + 8, arena.bytes() - 64, 0, {256, 512, 768}, 128);
  ASSERT_FALSE(off.ok());
  EXPECT_EQ(off.error().code, Errc::kMisaligned);
}

TEST(TripleBuffer, Create_RejectsControlBlockOutsideOrMisaligned) {
  TestArena arena(kSlot);
  expect_create_error(arena, 32, arena.slot_offsets(), kSlot, Errc::kMisaligned);
  expect_create_error(arena, arena.bytes(), arena.slot_offsets(), kSlot, Errc::kTooSmall);
  expect_create_error(arena, 0, arena.slot_offsets(), kSlot, Errc::kTooSmall,
                      TripleBuffer::kControlBytes - 64);
}

TEST(TripleBuffer, Create_RejectsSlotOutsideTheArena) {
  TestArena arena(kSlot);
  auto s = arena.slot_offsets();
  s[2] = arena.bytes() - 64;  // starts inside, ends past the end
  expect_create_error(arena, 0, s, kSlot, Errc::kOutOfRange);
  s[2] = std::numeric_limits<std::uint64_t>::max() - 63;  // would wrap if added
  expect_create_error(arena, 0, s, kSlot, Errc::kOutOfRange);
}

TEST(TripleBuffer, Create_RejectsMisalignedSlot) {
  TestArena arena(kSlot, 64);
  auto s = arena.slot_offsets();
  s[1] += 8;
  expect_create_error(arena, 0, s, kSlot, Errc::kMisaligned);
}

TEST(TripleBuffer, Create_RejectsOverlappingSlots) {
  TestArena arena(kSlot);
  auto s = arena.slot_offsets();
  s[1] = s[0] + 64;
  expect_create_error(arena, 0, s, kSlot, Errc::kOverlap);
  s = arena.slot_offsets();
  s[2] = s[0];
  expect_create_error(arena, 0, s, kSlot, Errc::kOverlap);
}

TEST(TripleBuffer, Create_RejectsSlotOverlappingTheControlBlock) {
  TestArena arena(kSlot);
  auto s = arena.slot_offsets();
  s[0] = 64;
  expect_create_error(arena, 0, s, kSlot, Errc::kOverlap);
}

TEST(TripleBuffer, Create_RejectsZeroOrHugeSlotSize) {
  TestArena arena(kSlot);
  expect_create_error(arena, 0, arena.slot_offsets(), 0, Errc::kInvalidArgument);
  expect_create_error(arena, 0, arena.slot_offsets(), std::numeric_limits<std::uint64_t>::max(),
                      Errc::kInvalidArgument);
}

// ---- attach(): corrupt and hostile control blocks ----

class TripleBufferAttach : public ::testing::Test {
 protected:
  TripleBufferAttach() : arena_(kSlot) { (void)make(arena_); }
  TripleBufferControl& ctl() { return *reinterpret_cast<TripleBufferControl*>(arena_.base()); }
  void expect_attach_error(Errc expected, std::size_t bytes = 0, std::uint64_t control = 0) {
    auto r = TripleBuffer::attach(arena_.base(), bytes ? bytes : arena_.bytes(), control);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, expected) << r.error().what();
    EXPECT_FALSE(r.error().message.empty());
  }
  TestArena arena_;
};

TEST_F(TripleBufferAttach, AcceptsWhatCreateBuilt) {
  auto r = TripleBuffer::attach(arena_.base(), arena_.bytes(), 0);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(r->slot_bytes(), kSlot);
  EXPECT_TRUE(IndicesAreDistinct(r.value()));
}

TEST_F(TripleBufferAttach, RejectsBadMagic) {
  ctl().magic.store(0xDEADBEEF, std::memory_order_relaxed);
  expect_attach_error(Errc::kBadMagic);
}

TEST_F(TripleBufferAttach, RejectsUninitialisedMemory) {
  TestArena blank(kSlot);
  auto r = TripleBuffer::attach(blank.base(), blank.bytes(), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kBadMagic);
}

TEST_F(TripleBufferAttach, RejectsBadVersion) {
  ctl().version = TripleBuffer::kVersion + 1;
  expect_attach_error(Errc::kBadVersion);
}

TEST_F(TripleBufferAttach, RejectsSlotOutsideTheArena) {
  ctl().slot_offsets[1] = arena_.bytes();
  expect_attach_error(Errc::kOutOfRange);
}

TEST_F(TripleBufferAttach, RejectsSlotOffsetThatWouldWrap) {
  ctl().slot_offsets[0] = std::numeric_limits<std::uint64_t>::max() - 63;
  expect_attach_error(Errc::kOutOfRange);
}

TEST_F(TripleBufferAttach, RejectsMisalignedSlot) {
  ctl().slot_offsets[2] -= 32;
  expect_attach_error(Errc::kMisaligned);
}

TEST_F(TripleBufferAttach, RejectsOverlappingSlots) {
  ctl().slot_offsets[2] = ctl().slot_offsets[1] + 128;
  expect_attach_error(Errc::kOverlap);
}

TEST_F(TripleBufferAttach, RejectsSlotOverlappingTheControlBlock) {
  ctl().slot_offsets[0] = 128;
  expect_attach_error(Errc::kOverlap);
}

TEST_F(TripleBufferAttach, RejectsTruncatedArena) {
  // Too short for the control block itself...
  expect_attach_error(Errc::kTooSmall, TripleBuffer::kControlBytes - 1);
  // ...and long enough for it but cut inside the last slot.
  expect_attach_error(Errc::kOutOfRange, arena_.bytes() - 64);
}

TEST_F(TripleBufferAttach, RejectsZeroSlotSize) {
  ctl().slot_bytes = 0;
  expect_attach_error(Errc::kCorruptHeader);
}

TEST_F(TripleBufferAttach, RejectsWrongControlOffset) {
  // A valid block copied elsewhere records the offset it was built at.
  TestArena big(kSlot, TripleBuffer::kControlBytes);
  auto tb = big.create();
  ASSERT_TRUE(tb.ok());
  const std::uint64_t copy_at = big.slot_offsets()[2] + align_up(kSlot, kCacheLine);
  std::memcpy(big.base() + copy_at, big.base(), TripleBuffer::kControlBytes);
  auto r = TripleBuffer::attach(big.base(), big.bytes(), copy_at);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kCorruptHeader) << r.error().what();
}

TEST_F(TripleBufferAttach, RejectsMisalignedControlOffsetAndNullBase) {
  expect_attach_error(Errc::kMisaligned, 0, 8);
  auto r = TripleBuffer::attach(nullptr, arena_.bytes(), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
}

TEST_F(TripleBufferAttach, RejectsOutOfRangeIndices) {
  ctl().writer_index.store(3, std::memory_order_relaxed);
  expect_attach_error(Errc::kCorruptHeader);
  ctl().writer_index.store(0, std::memory_order_relaxed);
  ctl().reader_index.store(0xFFFFFFFF, std::memory_order_relaxed);
  expect_attach_error(Errc::kCorruptHeader);
  ctl().reader_index.store(2, std::memory_order_relaxed);
  ctl().state.store(tb_state::pack(3, false, 0), std::memory_order_relaxed);
  expect_attach_error(Errc::kCorruptHeader);
}

// Hostile headers: valid magic and version, every other field drawn from
// edge values. attach() either refuses or returns slots inside the arena.
TEST_F(TripleBufferAttach, HostileHeadersNeverEscapeTheArena) {
  const std::uint64_t n = arena_.bytes();
  const std::vector<std::uint64_t> edges = {0,
                                            1,
                                            63,
                                            64,
                                            128,
                                            256,
                                            512,
                                            n - 64,
                                            n - 1,
                                            n,
                                            n + 64,
                                            std::numeric_limits<std::uint64_t>::max(),
                                            std::numeric_limits<std::uint64_t>::max() - 63,
                                            std::uint64_t{1} << 63};
  constexpr int kDraws = 20'000;
  constexpr int kUntouchedEvery = 16;  // these draws keep create()'s valid header
  std::mt19937_64 rng(7);
  int accepted = 0;
  int refused = 0;
  for (int i = 0; i < kDraws; ++i) {
    (void)make(arena_);
    if (i % kUntouchedEvery != 0) {
      ctl().slot_bytes = edges[rng() % edges.size()];
      for (auto& off : ctl().slot_offsets) off = edges[rng() % edges.size()];
      if (rng() % 8 == 0) {
        ctl().writer_index.store(static_cast<std::uint32_t>(rng()), std::memory_order_relaxed);
      }
    }
    auto r = TripleBuffer::attach(arena_.base(), n, 0);
    if (!r.ok()) {
      ++refused;
      continue;
    }
    ++accepted;
    for (const std::uint64_t off : ctl().slot_offsets) {
      ASSERT_GE(off, TripleBuffer::kControlBytes);
      ASSERT_LE(off + r->slot_bytes(), n);
    }
    const auto base = reinterpret_cast<std::uintptr_t>(arena_.base());
    const auto w = reinterpret_cast<std::uintptr_t>(r->write_slot().data());
    ASSERT_GE(w, base + TripleBuffer::kControlBytes);
    ASSERT_LE(w + r->write_slot().size(), base + n);
  }
  EXPECT_GE(accepted, kDraws / kUntouchedEvery);
  EXPECT_GT(refused, kDraws / 2);
}

}  // namespace
}  // namespace triptych

namespace triptych {
namespace {

// ---- indices read back after attach are checked at every use ----

// A state word naming the writer's own slot as the back slot is refused and
// counted (without the `next == w` check the writer silently shares it).
TEST(TripleBuffer, CorruptBackEqualToWritersSlotIsRejectedAndCounted) {
  TestArena arena(kSlot);
  TripleBuffer tb = make(arena);
  const std::uint32_t w = tb.indices().writer;
  tb.control().state.store(tb_state::pack(w, false, 0), std::memory_order_relaxed);
  EXPECT_EQ(tb.publish(), 1u);
  EXPECT_EQ(tb.rejected(), 1u);
  EXPECT_LT(tb.indices().writer, 3u);
}

// A dirty state word naming the reader's own slot is refused and counted,
// and nothing is taken (without the `next == r` check it is "taken").
TEST(TripleBuffer, CorruptBackEqualToReadersSlotIsRejectedAndCounted) {
  TestArena arena(kSlot);
  TripleBuffer tb = make(arena);
  const std::uint32_t r = tb.indices().reader;
  tb.control().state.store(tb_state::pack(r, true, 9), std::memory_order_relaxed);
  const TripleBuffer::Frame f = tb.acquire_latest();
  EXPECT_FALSE(f.is_new);
  EXPECT_EQ(tb.rejected(), 1u);
  EXPECT_EQ(tb.consumed(), 0u);
  EXPECT_EQ(tb.indices().reader, r);
}

bool is_one_of_the_slots(const TripleBuffer& tb, const std::byte* p) {
  return p == tb.slot(0).data() || p == tb.slot(1).data() || p == tb.slot(2).data();
}

// Indices corrupted after a successful attach: every span handed out is
// still one of the three validated slots, indices() stays below 3, and the
// calls that can refuse do (counted).
TEST(TripleBuffer, IndicesCorruptedAfterAttachNeverEscapeTheSlots) {
  TestArena arena(kSlot);
  TripleBuffer tb = make(arena);
  tb.control().writer_index.store(7, std::memory_order_relaxed);
  tb.control().reader_index.store(0xFFFFFFFF, std::memory_order_relaxed);
  tb.control().state.store(tb_state::pack(3, true, 4), std::memory_order_relaxed);
  EXPECT_TRUE(is_one_of_the_slots(tb, tb.write_slot().data()));
  EXPECT_EQ(tb.publish(), 0u) << "a corrupt writer index publishes nothing";
  const TripleBuffer::Frame f = tb.acquire_latest();
  EXPECT_FALSE(f.is_new);
  EXPECT_TRUE(is_one_of_the_slots(tb, f.data.data()));
  const TripleBuffer::Indices i = tb.indices();
  EXPECT_LT(i.writer, 3u);
  EXPECT_LT(i.back, 3u);
  EXPECT_LT(i.reader, 3u);
  EXPECT_GE(tb.rejected(), 3u);
}

}  // namespace
}  // namespace triptych
