// SPDX-License-Identifier: Apache-2.0
// Tests for compute_zone_map(): zone order (DESIGN.md §3), alignment, no
// overlap, sizes, the metadata directory, and rejection of bad or huge specs.
// Pure arithmetic, single-threaded.
#include "triptych/arena/zone_map.hpp"

#include <gtest/gtest.h>

#include <bit>

#include <limits>

#include "triptych/arena/handle.hpp"
#include "triptych/arena/protocol.hpp"
#include "triptych/sync/triple_buffer.hpp"

namespace triptych {
namespace {

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();

ArenaSpec typical() {
  ArenaSpec s;
  s.compute_slot_bytes = 100'000;
  s.layout_slot_bytes = 5000;
  s.result_slot_bytes = 640 * 480 * 4;
  s.control_ring_capacity = 64;
  s.handoff_ring_capacity = 1024;
  s.worker_stack_count = 3;
  s.worker_stack_bytes = 65536 + 100;
  s.kernel_static_bytes = 70'000;
  s.trace_record_capacity = 4096;
  s.handle_capacity = 256;
  return s;
}

// Checks every structural property a valid layout must have.
void expect_well_formed(const ZoneMap& l) {
  EXPECT_EQ(l.kernel_bytes % kPageSize, 0u);
  EXPECT_EQ(l.total_bytes % kPageSize, 0u);
  const ZoneEntry& kernel = l.zone(ZoneId::kKernel);
  EXPECT_EQ(kernel.flags, kZoneKernelMemory);
  EXPECT_EQ(kernel.offset, 0u) << "the kernel zone is at the kernel's memory's address 0";
  EXPECT_EQ(l.zone(ZoneId::kHeader).offset, 0u) << "the header is at the base";
  EXPECT_EQ(l.zone(ZoneId::kHeader).size, sizeof(ArenaHeader));
  std::uint64_t prev_end[2] = {0, 0};  // engine's memory, kernel's memory
  for (std::uint32_t i = 0; i < kZoneCount; ++i) {
    const ZoneEntry& z = l.zones[i];
    const auto id = static_cast<ZoneId>(i);
    SCOPED_TRACE(std::string(zone_name(id)));
    EXPECT_EQ(z.id, i);
    EXPECT_EQ(z.offset % kCacheLine, 0u);
    const bool in_kernel = in_kernel_memory(id);
    EXPECT_EQ((z.flags & kZoneKernelMemory) != 0, in_kernel)
        << "only the kernel zone and the compute slots are in the kernel's memory";
    EXPECT_GE(z.offset, prev_end[in_kernel ? 1 : 0]) << "zones are in §3 order and never overlap";
    EXPECT_LE(z.offset + z.size, in_kernel ? l.kernel_bytes : l.total_bytes);
    if (i >= static_cast<std::uint32_t>(ZoneId::kComputeA) &&
        i <= static_cast<std::uint32_t>(ZoneId::kResultC)) {
      EXPECT_NE(z.flags & kZoneGpuImport, 0u);
      EXPECT_EQ(z.offset % kPageSize, 0u) << "GPU-imported zones are page-aligned";
      EXPECT_EQ(z.size % kPageSize, 0u) << "GPU-imported zones are whole pages";
    } else {
      EXPECT_EQ(z.flags & kZoneGpuImport, 0u);
    }
    prev_end[in_kernel ? 1 : 0] = z.offset + z.size;
  }
  // Metadata blocks: inside the metadata zone, cache-line aligned, disjoint.
  const ZoneEntry& meta = l.zone(ZoneId::kMetadata);
  struct Block {
    std::uint64_t offset, size;
  };
  const Block blocks[] = {{l.tb_control[0], TripleBuffer::kControlBytes},
                          {l.tb_control[1], TripleBuffer::kControlBytes},
                          {l.tb_control[2], TripleBuffer::kControlBytes},
                          {l.components, kComponentCount * sizeof(ComponentLine)},
                          {l.frame_rejects, sizeof(RejectCounters)},
                          {l.slot_table, l.slot_table_bytes}};
  std::uint64_t block_end = meta.offset;
  for (const Block& b : blocks) {
    EXPECT_EQ(b.offset % kCacheLine, 0u);
    EXPECT_GE(b.offset, block_end);
    block_end = b.offset + b.size;
  }
  EXPECT_LE(block_end, meta.offset + meta.size);
}

TEST(Arena, Layout_TypicalSpecIsWellFormed) {
  auto l = compute_zone_map(typical());
  ASSERT_TRUE(l.ok()) << l.error().what();
  expect_well_formed(l.value());
}

TEST(Arena, Layout_MinimalSpecIsWellFormed) {
  ArenaSpec s;
  s.compute_slot_bytes = s.layout_slot_bytes = s.result_slot_bytes = 1;
  s.control_ring_capacity = s.handoff_ring_capacity = 2;
  s.handle_capacity = 1;
  auto l = compute_zone_map(s);
  ASSERT_TRUE(l.ok()) << l.error().what();
  expect_well_formed(l.value());
  EXPECT_EQ(l->zone(ZoneId::kKernel).size, 0u) << "no kernel static data, no stacks: an empty kernel zone";
  EXPECT_EQ(l->kernel_bytes, 3 * kPageSize) << "the kernel's memory is then just the compute slots";
  EXPECT_EQ(l->zone(ZoneId::kTrace).size, 0u);
  EXPECT_EQ(l->zone(ZoneId::kComputeA).size, kPageSize);
}

TEST(Arena, Layout_SizesFollowTheSpec) {
  const ArenaSpec s = typical();
  auto l = compute_zone_map(s);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->zone(ZoneId::kComputeB).size, align_up(s.compute_slot_bytes, kPageSize));
  EXPECT_EQ(l->zone(ZoneId::kLayoutC).size, align_up(s.layout_slot_bytes, kPageSize));
  EXPECT_EQ(l->zone(ZoneId::kResultA).size, align_up(s.result_slot_bytes, kPageSize));
  // A FrameTraceTable: two header lines and one 64-byte record per frame.
  EXPECT_EQ(l->zone(ZoneId::kTrace).size, (s.trace_record_capacity + 2) * kTraceRecordBytes);
  EXPECT_EQ(l->slot_table_bytes, SlotTable::required_bytes(s.handle_capacity));
  EXPECT_EQ(l->stacks_offset, align_up(s.kernel_static_bytes, kPageSize));
  EXPECT_EQ(l->stack_stride, align_up(s.worker_stack_bytes, kPageSize));
  EXPECT_EQ(l->zone(ZoneId::kKernel).size, l->stacks_offset + 3 * l->stack_stride);
  EXPECT_EQ(l->kernel_bytes, l->zone(ZoneId::kKernel).size + 3 * align_up(s.compute_slot_bytes, kPageSize));
  EXPECT_EQ(l->spec, s);
}

TEST(Arena, Layout_ZonesSweepIsWellFormed) {
  // Odd sizes around page and line boundaries.
  const std::uint64_t sizes[] = {1, 63, 64, 65, 4095, 4096, 4097, 123'457};
  for (std::uint64_t n : sizes) {
    ArenaSpec s = typical();
    s.compute_slot_bytes = n;
    s.layout_slot_bytes = n + 1;
    s.kernel_static_bytes = n;
    s.worker_stack_bytes = n;
    s.trace_record_capacity = n < 2 ? 2 : std::bit_ceil(n);
    auto l = compute_zone_map(s);
    ASSERT_TRUE(l.ok()) << n;
    SCOPED_TRACE(n);
    expect_well_formed(l.value());
  }
}

TEST(Arena, Layout_RejectsTraceCapacityNotAPowerOfTwo) {
  for (std::uint64_t cap : {std::uint64_t{1}, std::uint64_t{3}, std::uint64_t{1000},
                            (std::uint64_t{1} << 24) + 2, std::uint64_t{1} << 25}) {
    ArenaSpec s = typical();
    s.trace_record_capacity = cap;
    auto l = compute_zone_map(s);
    ASSERT_FALSE(l.ok()) << cap;
    EXPECT_EQ(l.error().code, Errc::kInvalidArgument);
    EXPECT_NE(l.error().message.find("trace record capacity"), std::string::npos);
  }
}

TEST(Arena, Layout_RejectsZeroSlots) {
  for (int which = 0; which < 3; ++which) {
    ArenaSpec s = typical();
    (which == 0   ? s.compute_slot_bytes
     : which == 1 ? s.layout_slot_bytes
                  : s.result_slot_bytes) = 0;
    auto l = compute_zone_map(s);
    ASSERT_FALSE(l.ok());
    EXPECT_EQ(l.error().code, Errc::kInvalidArgument);
  }
}

TEST(Arena, Layout_RejectsBadRingCapacities) {
  for (std::uint32_t cap : {0u, 1u, 3u, 100u, 0x80000001u, 0xFFFFFFFFu}) {
    ArenaSpec s = typical();
    s.control_ring_capacity = cap;
    EXPECT_EQ(compute_zone_map(s).error().code, Errc::kInvalidArgument) << cap;
    s = typical();
    s.handoff_ring_capacity = cap;
    EXPECT_EQ(compute_zone_map(s).error().code, Errc::kInvalidArgument) << cap;
  }
}

TEST(Arena, Layout_RejectsBadHandleCapacity) {
  ArenaSpec s = typical();
  s.handle_capacity = 0;
  EXPECT_EQ(compute_zone_map(s).error().code, Errc::kInvalidArgument);
  s.handle_capacity = (1u << 24) + 1;
  EXPECT_EQ(compute_zone_map(s).error().code, Errc::kInvalidArgument);
}

TEST(Arena, Layout_RejectsHugeSpecsWithoutOverflow) {
  auto expect_too_large = [](ArenaSpec s) {
    auto l = compute_zone_map(s);
    ASSERT_FALSE(l.ok());
    EXPECT_EQ(l.error().code, Errc::kInvalidArgument) << l.error().what();
  };
  ArenaSpec s = typical();
  s.compute_slot_bytes = kU64Max;
  expect_too_large(s);
  s = typical();
  s.result_slot_bytes = kU64Max - kPageSize + 2;  // align_up would wrap to 0
  expect_too_large(s);
  s = typical();
  s.layout_slot_bytes = kMaxArenaBytes / 3 + 1;  // each fits, three do not
  expect_too_large(s);
  s = typical();
  s.trace_record_capacity = kU64Max / 64 + 1;  // capacity * 64 would overflow: refused as a capacity
  EXPECT_EQ(compute_zone_map(s).error().code, Errc::kInvalidArgument);
  s = typical();
  s.worker_stack_count = 0xFFFFFFFFu;
  s.worker_stack_bytes = kU64Max / 2;  // count * stride overflows
  expect_too_large(s);
  s = typical();
  s.kernel_static_bytes = kU64Max;
  expect_too_large(s);
  s = typical();
  s.kernel_static_bytes = kMaxArenaBytes - kPageSize;  // kernel zone + arena > the limit
  s.compute_slot_bytes = kPageSize * 4;
  expect_too_large(s);
}

TEST(Arena, Layout_ZoneNamesAreDistinct) {
  for (std::uint32_t i = 0; i < kZoneCount; ++i) {
    for (std::uint32_t j = 0; j < i; ++j)
      EXPECT_NE(zone_name(static_cast<ZoneId>(i)), zone_name(static_cast<ZoneId>(j)));
    EXPECT_NE(zone_name(static_cast<ZoneId>(i)), "unknown");
  }
}

}  // namespace
}  // namespace triptych
