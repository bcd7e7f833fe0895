// SPDX-License-Identifier: Apache-2.0
// Single-threaded tests for include/triptych/sync/triple_buffer.hpp: every
// way create() and attach() must refuse bad input (bad places, overlapping
// or misaligned slots, hostile and corrupted control blocks), run under
// ASan+UBSan. Design: docs/sync.md ("Triple buffer").
#include "triptych/sync/triple_buffer.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "sync/triple_buffer_invariant.hpp"

namespace triptych {
namespace {

using testing::IndicesAreDistinct;
using testing::TestArena;

constexpr std::size_t kSlot = 256;

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
  TripleBufferAttach() : arena_(kSlot) { (void)arena_.make(); }
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
    (void)arena_.make();
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
  TripleBuffer tb = arena.make();
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
  TripleBuffer tb = arena.make();
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
  TripleBuffer tb = arena.make();
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
