// SPDX-License-Identifier: Apache-2.0
// Tests for include/triptych/arena/handle.hpp: SlotTable create/attach errors,
// allocation, release, generation bumps on reuse, stale and out-of-range
// rejection with per-reason counters, and FrameRef checks against a
// TripleBuffer's per-slot generations. Single-threaded.
#include "triptych/arena/handle.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "triptych/sync/triple_buffer.hpp"

namespace triptych {
namespace {

// 64-byte aligned scratch memory for one table.
struct Buffer {
  explicit Buffer(std::size_t n) : bytes(n + kCacheLine) {}
  std::byte* data() {
    auto p = reinterpret_cast<std::uintptr_t>(bytes.data());
    return bytes.data() + (align_up(p, kCacheLine) - p);
  }
  std::vector<std::byte> bytes;
};

TEST(Handle, SlotTable_RequiredBytesRejectsBadCapacity) {
  EXPECT_EQ(SlotTable::required_bytes(0), 0u);
  EXPECT_EQ(SlotTable::required_bytes((1u << 24) + 1), 0u);
  EXPECT_EQ(SlotTable::required_bytes(1), 128u + 16u);
  EXPECT_EQ(SlotTable::required_bytes(64), 128u + 64u * 16u);
}

TEST(Handle, SlotTable_CreateRejectsBadArguments) {
  Buffer buf(4096);
  auto zero = SlotTable::create(buf.data(), 4096, 0);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().code, Errc::kInvalidArgument);
  auto small = SlotTable::create(buf.data(), SlotTable::required_bytes(8) - 1, 8);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.error().code, Errc::kTooSmall);
  auto misaligned = SlotTable::create(buf.data() + 8, 4000, 8);
  ASSERT_FALSE(misaligned.ok());
  EXPECT_EQ(misaligned.error().code, Errc::kMisaligned);
}

TEST(Handle, SlotTable_ZeroHandleNeverResolves) {
  Buffer buf(4096);
  auto t = SlotTable::create(buf.data(), 4096, 4);
  ASSERT_TRUE(t.ok());
  auto r = t->resolve(Handle{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kStale);
}

TEST(Handle, SlotTable_AllocateResolveRelease) {
  Buffer buf(4096);
  auto t = SlotTable::create(buf.data(), 4096, 4);
  ASSERT_TRUE(t.ok());
  auto h = t->try_allocate(0xABCD);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->generation % 2, 1u) << "live generations are odd";
  EXPECT_EQ(t->live(), 1u);
  auto r = t->resolve(*h);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), 0xABCDu);
  EXPECT_TRUE(t->release(*h));
  EXPECT_EQ(t->live(), 0u);
  EXPECT_FALSE(t->release(*h)) << "a handle is released once";
  auto stale = t->resolve(*h);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, Errc::kStale);
  EXPECT_EQ(t->stale_rejections(), 1u);
  EXPECT_EQ(t->out_of_range_rejections(), 0u);
}

TEST(Handle, SlotTable_ReuseBumpsGenerationAndOldHandleStaysStale) {
  Buffer buf(4096);
  auto t = SlotTable::create(buf.data(), 4096, 1);
  ASSERT_TRUE(t.ok());
  auto first = t->try_allocate(1);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(t->release(*first));
  auto second = t->try_allocate(2);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->index, first->index);
  EXPECT_EQ(second->generation, first->generation + 2);
  std::uint64_t v = 0;
  EXPECT_EQ(t->try_resolve(*first, v), ResolveStatus::kStale);
  EXPECT_EQ(t->try_resolve(*second, v), ResolveStatus::kOk);
  EXPECT_EQ(v, 2u);
  EXPECT_EQ(t->stale_rejections(), 1u);
}

TEST(Handle, SlotTable_FullTableRefusesAllocation) {
  Buffer buf(4096);
  auto t = SlotTable::create(buf.data(), 4096, 3);
  ASSERT_TRUE(t.ok());
  std::vector<Handle> hs;
  for (int i = 0; i < 3; ++i) {
    auto h = t->try_allocate(static_cast<std::uint64_t>(i));
    ASSERT_TRUE(h.has_value());
    hs.push_back(*h);
  }
  EXPECT_FALSE(t->try_allocate(99).has_value());
  EXPECT_EQ(t->live(), 3u);
  for (std::size_t i = 0; i < hs.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) EXPECT_NE(hs[i].index, hs[j].index);
  }
}

TEST(Handle, SlotTable_OutOfRangeIsRejectedAndCounted) {
  Buffer buf(4096);
  auto t = SlotTable::create(buf.data(), 4096, 4);
  ASSERT_TRUE(t.ok());
  auto r = t->resolve(Handle{4, 1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kOutOfRange);
  std::uint64_t v = 0;
  EXPECT_EQ(t->try_resolve(Handle{0xFFFFFFFFu, 1}, v), ResolveStatus::kOutOfRange);
  EXPECT_EQ(t->out_of_range_rejections(), 2u);
  EXPECT_EQ(t->stale_rejections(), 0u);
  EXPECT_FALSE(t->release(Handle{4, 1}));
}

TEST(Handle, SlotTable_ForgedGenerationIsStale) {
  Buffer buf(4096);
  auto t = SlotTable::create(buf.data(), 4096, 2);
  ASSERT_TRUE(t.ok());
  auto h = t->try_allocate(7);
  ASSERT_TRUE(h.has_value());
  std::uint64_t v = 0;
  EXPECT_EQ(t->try_resolve(Handle{h->index, h->generation + 2}, v), ResolveStatus::kStale);
  EXPECT_EQ(t->try_resolve(Handle{h->index, h->generation + 1}, v), ResolveStatus::kStale);
  EXPECT_FALSE(t->release(Handle{h->index, h->generation + 2}));
  EXPECT_EQ(t->live(), 1u);
  EXPECT_EQ(t->stale_rejections(), 2u);
}

TEST(Handle, SlotTable_AttachSeesCreatorsHandles) {
  Buffer buf(4096);
  auto t = SlotTable::create(buf.data(), 4096, 8);
  ASSERT_TRUE(t.ok());
  auto h = t->try_allocate(42);
  ASSERT_TRUE(h.has_value());
  auto peer = SlotTable::attach(buf.data(), 4096);
  ASSERT_TRUE(peer.ok()) << peer.error().what();
  EXPECT_EQ(peer->capacity(), 8u);
  auto r = peer->resolve(*h);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), 42u);
  ASSERT_TRUE(t->release(*h));
  EXPECT_FALSE(peer->resolve(*h).ok());
  EXPECT_EQ(t->stale_rejections(), 1u) << "counters are shared by every view";
}

TEST(Handle, SlotTable_AttachRejectsCorruptHeaderFields) {
  Buffer buf(4096);
  const std::size_t bytes = SlotTable::required_bytes(8);
  auto fresh = [&] {
    std::memset(buf.data(), 0, 4096);
    ASSERT_TRUE(SlotTable::create(buf.data(), bytes, 8).ok());
  };
  auto expect_error = [&](Errc code) {
    auto r = SlotTable::attach(buf.data(), bytes);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, code) << r.error().what();
  };
  auto poke32 = [&](std::size_t off, std::uint32_t v) { std::memcpy(buf.data() + off, &v, 4); };

  fresh();
  buf.data()[0] ^= std::byte{1};
  expect_error(Errc::kBadMagic);
  fresh();
  poke32(8, 2);
  expect_error(Errc::kBadVersion);
  fresh();
  poke32(12, 0);
  expect_error(Errc::kCorruptHeader);  // not initialized
  fresh();
  poke32(16, 9);  // capacity 9 needs more than the 8-cell region
  expect_error(Errc::kTooSmall);
  fresh();
  poke32(16, 0);
  expect_error(Errc::kCorruptHeader);
  fresh();
  poke32(16, 0xFFFFFFFFu);
  expect_error(Errc::kCorruptHeader);
  fresh();
  poke32(20, 8);
  expect_error(Errc::kCorruptHeader);  // cell size
  fresh();
  auto truncated = SlotTable::attach(buf.data(), 100);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().code, Errc::kTooSmall);
  auto misaligned = SlotTable::attach(buf.data() + 4, bytes);
  ASSERT_FALSE(misaligned.ok());
  EXPECT_EQ(misaligned.error().code, Errc::kMisaligned);
  auto null = SlotTable::attach(nullptr, bytes);
  ASSERT_FALSE(null.ok());
}

// A stand-in for TripleBuffer's generation accessor.
struct FakeFrames {
  std::uint64_t gens[3] = {0, 0, 0};
  std::uint64_t slot_generation(std::uint32_t i) const { return i < 3 ? gens[i] : 0; }
};

TEST(Handle, FrameRef_MatchesOnlyTheSlotsCurrentGeneration) {
  FakeFrames f{{5, 6, 7}};
  RejectCounters counters;
  EXPECT_EQ(check_frame_ref(f, FrameRef{6, 1, 0}, &counters), ResolveStatus::kOk);
  EXPECT_EQ(check_frame_ref(f, FrameRef{5, 1, 0}, &counters), ResolveStatus::kStale);
  EXPECT_EQ(check_frame_ref(f, FrameRef{7, 3, 0}, &counters), ResolveStatus::kOutOfRange);
  EXPECT_EQ(check_frame_ref(f, FrameRef{7, 2, 0}, nullptr), ResolveStatus::kOk);
  EXPECT_EQ(counters.stale.load(std::memory_order_relaxed), 1u);
  EXPECT_EQ(counters.out_of_range.load(std::memory_order_relaxed), 1u);
}

TEST(Handle, FrameRef_GoesStaleWhenTheWriterRefillsTheSlot) {
  alignas(kPageSize) static std::byte arena[4096];
  auto tb = TripleBuffer::create(arena, sizeof(arena), 0, {256, 512, 768}, 256);
  ASSERT_TRUE(tb.ok()) << tb.error().what();
  RejectCounters counters;
  tb->write_slot()[0] = std::byte{1};
  const std::uint64_t g1 = tb->publish();
  auto frame = tb->acquire_latest();
  ASSERT_TRUE(frame.is_new);
  EXPECT_EQ(frame.generation, g1);
  const auto slot = static_cast<std::uint32_t>((frame.data.data() - arena - 256) / 256);
  const FrameRef ref{g1, slot, 0};
  EXPECT_EQ(check_frame_ref(tb.value(), ref, &counters), ResolveStatus::kOk);
  // Two more publishes and a swap hand that slot back to the writer, which
  // refills it with a newer generation.
  (void)tb->publish();
  (void)tb->acquire_latest();
  (void)tb->publish();
  (void)tb->publish();
  EXPECT_EQ(check_frame_ref(tb.value(), ref, &counters), ResolveStatus::kStale);
  EXPECT_EQ(counters.stale.load(std::memory_order_relaxed), 1u);
}

}  // namespace
}  // namespace triptych
