// SPDX-License-Identifier: Apache-2.0
// Tests for include/triptych/arena/arena.hpp: one conformance suite run over
// every backing (anonymous mmap, sealed memfd, adopted host memory). The
// bad-input cases are arena_hostile_test.cpp's. Single-threaded.
#include "arena/arena_fixtures.hpp"
#include "support/host_memory.hpp"
#include "triptych/arena/arena.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>

namespace triptych {
namespace {

using testing_arena::small_spec;


using test::HostMemory;

enum class Kind { kAnonymous, kMemfd, kAdopted };

std::string kind_name(const testing::TestParamInfo<Kind>& info) {
  switch (info.param) {
    case Kind::kAnonymous:
      return "Anonymous";
    case Kind::kMemfd:
      return "Memfd";
    case Kind::kAdopted:
      return "Adopted";
  }
  return "Unknown";
}

class ArenaConformance : public testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    auto l = compute_zone_map(small_spec());
    ASSERT_TRUE(l.ok());
    zone_map_ = l.value();
    switch (GetParam()) {
      case Kind::kAnonymous: {
        auto a = Arena::create_anonymous(small_spec());
        ASSERT_TRUE(a.ok()) << a.error().what();
        arena_.emplace(std::move(a).value());
        break;
      }
      case Kind::kMemfd: {
        auto a = Arena::create_memfd(small_spec(), "arena-test");
        ASSERT_TRUE(a.ok()) << a.error().what();
        arena_.emplace(std::move(a).value());
        break;
      }
      case Kind::kAdopted: {
        offset_ = kPageSize;  // some host data before the header
        host_.emplace(HostMemory(static_cast<std::size_t>(offset_ + zone_map_.total_bytes)));
        kernel_host_.emplace(HostMemory(static_cast<std::size_t>(zone_map_.kernel_bytes)));
        auto a = Arena::adopt(memories(), small_spec());
        ASSERT_TRUE(a.ok()) << a.error().what();
        arena_.emplace(std::move(a).value());
        break;
      }
    }
  }

  // A second, independent view of the same bytes, the way a peer gets one.
  Result<Arena> attach_peer() {
    switch (GetParam()) {
      case Kind::kAnonymous:
        return Arena::attach_external(HostMemories{arena_->kernel_base(), arena_->kernel_bytes(),
                                                   arena_->base(), arena_->total_bytes(), 0});
      case Kind::kMemfd:
        return Arena::attach_memfd(arena_->fd());
      case Kind::kAdopted:
        return Arena::attach_external(memories());
    }
    return make_error(Errc::kInvalidArgument, "unknown kind");
  }

  HostMemories memories() const {
    return HostMemories{kernel_host_->mem.get(), kernel_host_->bytes, host_->mem.get(), host_->bytes, offset_};
  }

  ZoneMap zone_map_;
  std::optional<HostMemory> host_;
  std::optional<HostMemory> kernel_host_;
  std::uint64_t offset_ = 0;
  std::optional<Arena> arena_;
};

TEST_P(ArenaConformance, HeaderDescribesTheZoneMap) {
  const ArenaHeader& h = arena_->header();
  EXPECT_EQ(h.magic, kArenaMagic);
  EXPECT_EQ(h.version, kArenaVersion);
  EXPECT_EQ(h.initialized.load(std::memory_order_acquire), 1u);
  EXPECT_EQ(h.total_bytes, zone_map_.total_bytes);
  EXPECT_EQ(h.kernel_bytes, zone_map_.kernel_bytes);
  for (std::uint32_t i = 0; i < kZoneCount; ++i) EXPECT_EQ(h.zones[i], zone_map_.zones[i]);
  EXPECT_EQ(arena_->zone_map(), zone_map_);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(arena_->base()) % kPageSize, 0u);
  auto v = Arena::validate(arena_->base(), arena_->total_bytes(), zone_map_.kernel_bytes);
  ASSERT_TRUE(v.ok()) << v.error().what();
  EXPECT_EQ(v.value(), zone_map_);
}

TEST_P(ArenaConformance, ZonesAreWritableAndDisjoint) {
  for (std::uint32_t i = 0; i < kZoneCount; ++i) {
    const auto id = static_cast<ZoneId>(i);
    if (id == ZoneId::kHeader || id == ZoneId::kMetadata || id == ZoneId::kControlRing ||
        id == ZoneId::kHandoffRing || id == ZoneId::kTrace)  // blocks with headers of their own
      continue;
    auto z = arena_->zone(id);
    ASSERT_EQ(z.size(), zone_map_.zones[i].size);
    std::memset(z.data(), static_cast<int>(i), z.size());
  }
  for (std::uint32_t i = 0; i < kZoneCount; ++i) {
    const auto id = static_cast<ZoneId>(i);
    if (id == ZoneId::kHeader || id == ZoneId::kMetadata || id == ZoneId::kControlRing ||
        id == ZoneId::kHandoffRing || id == ZoneId::kTrace)  // blocks with headers of their own
      continue;
    auto z = arena_->zone(id);
    for (std::byte b : z) ASSERT_EQ(b, static_cast<std::byte>(i)) << zone_name(id);
  }
  // The kernel zone starts the kernel's memory, the compute slots follow it
  // there, and no byte of the kernel's memory is in the engine's.
  auto k = arena_->zone(ZoneId::kKernel);
  EXPECT_EQ(k.data(), arena_->kernel_base());
  EXPECT_EQ(arena_->zone(ZoneId::kComputeA).data(), arena_->kernel_base() + k.size());
  const std::byte* k0 = arena_->kernel_base();
  const std::byte* k1 = k0 + arena_->kernel_bytes();
  const std::byte* e0 = arena_->base();
  const std::byte* e1 = e0 + arena_->total_bytes();
  EXPECT_TRUE(k1 <= e0 || e1 <= k0) << "the two memories must not overlap";
  for (std::uint32_t i = 0; i < kZoneCount; ++i) {
    const auto id = static_cast<ZoneId>(i);
    auto z = arena_->zone(id);
    if (in_kernel_memory(id)) {
      EXPECT_TRUE(z.data() >= k0 && z.data() + z.size() <= k1) << zone_name(id);
    } else {
      EXPECT_TRUE(z.data() >= e0 && z.data() + z.size() <= e1) << zone_name(id);
    }
  }
  for (std::uint32_t w = 0; w < 2; ++w) {
    auto s = arena_->worker_stack(w);
    EXPECT_EQ(s.size(), 8192u);
    EXPECT_GE(s.data(), k.data());
    EXPECT_LE(s.data() + s.size(), k.data() + k.size());
  }
  EXPECT_TRUE(arena_->worker_stack(2).empty());
  // Writing the zones left every block intact.
  auto peer = attach_peer();
  ASSERT_TRUE(peer.ok()) << peer.error().what();
}

TEST_P(ArenaConformance, PeerSeesControlMessagesInOrder) {
  auto peer = attach_peer();
  ASSERT_TRUE(peer.ok()) << peer.error().what();
  // Capacity 8: three laps of the ring.
  for (std::uint64_t seq = 1; seq <= 24; ++seq) {
    ControlMessage m{static_cast<std::uint32_t>(ControlKind::kPing), 0, seq, seq * 10, 0};
    ASSERT_TRUE(arena_->control().try_push(m));
    ControlMessage out{};
    ASSERT_TRUE(peer->control().try_pop(out));
    EXPECT_EQ(out.sequence, seq);
    EXPECT_EQ(out.arg0, seq * 10);
  }
  ControlMessage none{};
  EXPECT_FALSE(peer->control().try_pop(none));
}

TEST_P(ArenaConformance, PeerSeesHandoffsAndResolvesTheirRanges) {
  auto peer = attach_peer();
  ASSERT_TRUE(peer.ok()) << peer.error().what();
  const ZoneEntry& ca = zone_map_.zone(ZoneId::kComputeA);
  HandoffMessage m{7,
                   ca.offset + 128,
                   256,
                   static_cast<std::uint16_t>(ZoneId::kComputeA),
                   static_cast<std::uint16_t>(HandoffKind::kComputeChunk),
                   1,
                   4};
  ASSERT_TRUE(arena_->handoffs().try_push(m));
  HandoffMessage out{};
  ASSERT_TRUE(peer->handoffs().try_pop(out));
  auto range = peer->resolve(out);
  ASSERT_TRUE(range.ok()) << range.error().what();
  EXPECT_EQ(range->data(), peer->kernel_base() + ca.offset + 128) << "compute zones are in the kernel's memory";
  EXPECT_EQ(range->size(), 256u);
}

TEST_P(ArenaConformance, PeerReadsPublishedFrames) {
  auto peer = attach_peer();
  ASSERT_TRUE(peer.ok()) << peer.error().what();
  for (std::uint32_t s = 0; s < 3; ++s) {
    const auto stage = static_cast<FrameStage>(s);
    TripleBuffer& w = arena_->triple_buffer(stage);
    TripleBuffer& r = peer->triple_buffer(stage);
    for (std::uint64_t f = 1; f <= 5; ++f) {
      auto slot = w.write_slot();
      std::memset(slot.data(), static_cast<int>(f + s), slot.size());
      EXPECT_EQ(w.publish(), f);
      auto frame = r.acquire_latest();
      ASSERT_TRUE(frame.is_new);
      EXPECT_EQ(frame.generation, f);
      EXPECT_EQ(frame.data.size(), s == 0   ? small_spec().compute_slot_bytes
                                   : s == 1 ? small_spec().layout_slot_bytes
                                            : small_spec().result_slot_bytes);
      EXPECT_EQ(frame.data.front(), static_cast<std::byte>(f + s));
      EXPECT_EQ(frame.data.back(), static_cast<std::byte>(f + s));
      // The frame lies inside one of this stage's zones, in its memory.
      const auto first = static_cast<ZoneId>(static_cast<std::uint32_t>(ZoneId::kComputeA) + 3 * s);
      const auto last = static_cast<ZoneId>(static_cast<std::uint32_t>(first) + 2);
      EXPECT_GE(frame.data.data(), peer->zone(first).data());
      EXPECT_LE(frame.data.data() + frame.data.size(), peer->zone(last).data() + peer->zone(last).size());
    }
    EXPECT_EQ(w.published(), 5u);
    EXPECT_EQ(r.consumed(), 5u);
    EXPECT_EQ(w.dropped(), 0u);
  }
}

TEST_P(ArenaConformance, HandlesAndComponentLinesAreShared) {
  auto peer = attach_peer();
  ASSERT_TRUE(peer.ok()) << peer.error().what();
  auto h = arena_->handles().try_allocate(1234);
  ASSERT_TRUE(h.has_value());
  auto r = peer->handles().resolve(*h);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), 1234u);
  ASSERT_TRUE(arena_->handles().release(*h));
  EXPECT_FALSE(peer->handles().resolve(*h).ok());
  EXPECT_EQ(arena_->handles().stale_rejections(), 1u);

  arena_->component(Component::kRender).heartbeat.store(99, std::memory_order_relaxed);
  EXPECT_EQ(peer->component(Component::kRender).heartbeat.load(std::memory_order_relaxed), 99u);
  EXPECT_EQ(peer->component(Component::kCompute).heartbeat.load(std::memory_order_relaxed), 0u);
}

TEST_P(ArenaConformance, PeerSeesTraceStampsInTheTraceZone) {
  auto peer = attach_peer();
  ASSERT_TRUE(peer.ok()) << peer.error().what();
  trace::FrameTraceTable* mine = arena_->trace();
  trace::FrameTraceTable* theirs = peer->trace();
  if (mine == nullptr || theirs == nullptr) FAIL() << "the arena has no trace table";
  EXPECT_EQ(theirs->capacity(), small_spec().trace_record_capacity);
  const std::uint64_t frame = mine->begin_frame(1000);
  EXPECT_EQ(theirs->stamp(frame, trace::Stage::kComputeStart, 2000), trace::StampStatus::kOk);
  trace::FrameSnapshot snap;
  ASSERT_EQ(mine->try_read(frame, snap), trace::ReadStatus::kOk);
  EXPECT_EQ(snap.at(trace::Stage::kQueued), 1000u);
  EXPECT_EQ(snap.at(trace::Stage::kComputeStart), 2000u);
}

TEST_P(ArenaConformance, FrameRefsAreCheckedAndCounted) {
  TripleBuffer& tb = arena_->triple_buffer(FrameStage::kCompute);
  const std::uint64_t g = tb.publish();
  auto f = tb.acquire_latest();
  ASSERT_TRUE(f.is_new);
  std::uint32_t slot = 3;
  for (std::uint32_t i = 0; i < 3; ++i)
    if (tb.slot_generation(i) == g) slot = i;
  ASSERT_LT(slot, 3u);
  EXPECT_EQ(arena_->check(FrameStage::kCompute, FrameRef{g, slot, 0}), ResolveStatus::kOk);
  EXPECT_EQ(arena_->check(FrameStage::kCompute, FrameRef{g + 1, slot, 0}), ResolveStatus::kStale);
  EXPECT_EQ(arena_->check(FrameStage::kCompute, FrameRef{g, 7, 0}), ResolveStatus::kOutOfRange);
  EXPECT_EQ(arena_->frame_rejects().stale.load(std::memory_order_relaxed), 1u);
  EXPECT_EQ(arena_->frame_rejects().out_of_range.load(std::memory_order_relaxed), 1u);
}

TEST_P(ArenaConformance, ResolveRejectsRangesOutsideTheirZone) {
  const ZoneEntry& lb = zone_map_.zone(ZoneId::kLayoutB);
  EXPECT_TRUE(arena_->resolve(ZoneId::kLayoutB, lb.offset, lb.size).ok());
  EXPECT_TRUE(arena_->resolve(ZoneId::kLayoutB, lb.offset + lb.size, 0).ok());
  auto expect_out = [&](ZoneId z, std::uint64_t off, std::uint64_t n) {
    auto r = arena_->resolve(z, off, n);
    ASSERT_FALSE(r.ok()) << off << "+" << n;
    EXPECT_EQ(r.error().code, Errc::kOutOfRange);
  };
  expect_out(ZoneId::kLayoutB, lb.offset - 1, 1);
  expect_out(ZoneId::kLayoutB, lb.offset, lb.size + 1);
  expect_out(ZoneId::kLayoutB, lb.offset + lb.size, 1);
  expect_out(ZoneId::kLayoutB, lb.offset + 8, ~std::uint64_t{0});  // offset + bytes overflows
  expect_out(ZoneId::kLayoutB, ~std::uint64_t{0}, 2);
  expect_out(ZoneId::kKernel, 0, 1);
  expect_out(static_cast<ZoneId>(99), 0, 1);
  HandoffMessage m{1,  zone_map_.zone(ZoneId::kMetadata).offset,
                   64, static_cast<std::uint16_t>(ZoneId::kMetadata),
                   1,  0,
                   1};
  EXPECT_EQ(arena_->resolve(m).error().code, Errc::kOutOfRange)
      << "hand-offs name frame zones only";
  m.zone = static_cast<std::uint16_t>(ZoneId::kComputeA);  // metadata offset, compute zone: refused
  EXPECT_EQ(arena_->resolve(m).error().code, Errc::kOutOfRange);
}

TEST_P(ArenaConformance, MovedArenaKeepsWorking) {
  Arena moved = std::move(*arena_);
  EXPECT_EQ(arena_->base(), nullptr);
  ControlMessage m{0, 0, 1, 0, 0};
  ASSERT_TRUE(moved.control().try_push(m));
  ControlMessage out{};
  ASSERT_TRUE(moved.control().try_pop(out));
  EXPECT_EQ(out.sequence, 1u);
  Arena again = std::move(moved);
  EXPECT_TRUE(again.triple_buffer(FrameStage::kResult).write_slot().size() > 0);
  arena_.reset();
}

INSTANTIATE_TEST_SUITE_P(Backings, ArenaConformance,
                         testing::Values(Kind::kAnonymous, Kind::kMemfd, Kind::kAdopted),
                         kind_name);

}  // namespace
}  // namespace triptych
