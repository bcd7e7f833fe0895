// SPDX-License-Identifier: Apache-2.0
// The arena's zone table: ArenaSpec (what the pipeline needs) ->
// compute_zone_map() -> ZoneMap (where every zone and control block sits,
// as offsets from the start of its memory: the kernel's memory or the
// engine's). Pure arithmetic with overflow checks; no
// shared memory is touched, so any thread may call it. The zone order is
// DESIGN.md §3; the byte contract is docs/PROTOCOL.md, the design docs/arena.md.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "triptych/core/config.hpp"
#include "triptych/core/result.hpp"

namespace triptych {

// Zones in DESIGN.md §3 order; the value is also the zone's index in the
// header's table. Stored as 32-bit integers in shared memory.
enum class ZoneId : std::uint32_t {
  kKernel = 0,  // WASM static data + per-worker stacks/TLS, at the kernel's memory's address 0
  kHeader,      // ArenaHeader and its zone table, at the base
  kMetadata,    // triple-buffer control blocks, component lines, slot table
  kComputeA,
  kComputeB,
  kComputeC,
  kLayoutA,
  kLayoutB,
  kLayoutC,
  kResultA,
  kResultB,
  kResultC,
  kControlRing,  // SpscRing<ControlMessage>: host -> engine
  kHandoffRing,  // MpmcRing<HandoffMessage>: stage -> stage hand-offs
  kTrace,        // trace records, 64 bytes each, owned by src/trace
};
inline constexpr std::uint32_t kZoneCount = 15;
inline constexpr std::uint32_t kMaxZones = 16;  // the header's table has room for one more
static_assert(static_cast<std::uint32_t>(ZoneId::kTrace) + 1 == kZoneCount,
              "kZoneCount must cover every ZoneId");

[[nodiscard]] std::string_view zone_name(ZoneId id) noexcept;
// "zone 3 (compute A)": how errors name a zone-table row.
[[nodiscard]] std::string zone_label(std::uint32_t row);

// The kernel zone and the compute slots are the only zones a kernel reaches.
[[nodiscard]] constexpr bool in_kernel_memory(ZoneId id) noexcept {
  return id == ZoneId::kKernel || id == ZoneId::kComputeA || id == ZoneId::kComputeB ||
         id == ZoneId::kComputeC;
}

// Zone flags (ZoneEntry::flags).
// A zone in the kernel's memory (the kernel zone and the compute slots): its
// offset counts from that memory's address 0. Every other zone is in the
// engine's memory, which no kernel is given; its offset counts from the base.
inline constexpr std::uint32_t kZoneKernelMemory = 1u << 0;
inline constexpr std::uint32_t kZoneGpuImport = 1u << 1;  // 4 KiB-aligned, page-sized
inline constexpr std::uint32_t kZoneKnownFlags = kZoneKernelMemory | kZoneGpuImport;

// One row of the zone table, exactly as stored in the header (24 bytes).
// Offsets are from the start of the zone's memory (kZoneKernelMemory or not).
struct ZoneEntry {
  std::uint32_t id;
  std::uint32_t flags;
  std::uint64_t offset;
  std::uint64_t size;
  friend constexpr bool operator==(const ZoneEntry&, const ZoneEntry&) = default;
};
static_assert(sizeof(ZoneEntry) == 24, "PROTOCOL.md fixes a zone entry at 24 bytes");

// The pipeline's needs. Slot sizes are per slot: compute A, B and C are each
// compute_slot_bytes long (rounded up to whole pages in the zone table).
struct ArenaSpec {
  std::uint64_t compute_slot_bytes = kPageSize;  // N
  std::uint64_t layout_slot_bytes = kPageSize;   // M
  std::uint64_t result_slot_bytes = kPageSize;   // K
  std::uint32_t control_ring_capacity = 64;      // power of two >= 2
  std::uint32_t handoff_ring_capacity = 256;     // power of two >= 2
  std::uint32_t worker_stack_count = 0;
  std::uint64_t worker_stack_bytes = 0;     // per worker, rounded up to a page
  std::uint64_t kernel_static_bytes = 0;    // WASM data segment + module stack
  std::uint64_t trace_record_capacity = 0;  // 64-byte records
  std::uint32_t handle_capacity = 64;       // SlotTable cells, 1 .. 2^24
  friend constexpr bool operator==(const ArenaSpec&, const ArenaSpec&) = default;
};

// Sizes above this are refused: 2^46 bytes (64 TiB) keeps every sum far from
// 64-bit overflow and is beyond any machine this runs on.
inline constexpr std::uint64_t kMaxArenaBytes = std::uint64_t{1} << 46;

// Components with a hot line of their own in the metadata zone.
enum class Component : std::uint32_t { kHost = 0, kFrameLoop, kCompute, kRender, kPresent };
inline constexpr std::uint32_t kComponentCount = 5;

inline constexpr std::uint64_t kTraceRecordBytes = 64;

struct ZoneMap {
  ArenaSpec spec;
  std::uint64_t kernel_bytes = 0;  // the kernel's memory: kernel zone, compute A B C (whole pages)
  std::uint64_t total_bytes = 0;   // the engine's memory, from the base to the end (whole pages)
  std::array<ZoneEntry, kZoneCount> zones{};
  // Inside the metadata zone (offsets from the engine's base).
  std::array<std::uint64_t, 3> tb_control{};  // compute, layout, result
  std::uint64_t components = 0;               // kComponentCount ComponentLines
  std::uint64_t frame_rejects = 0;            // RejectCounters for FrameRef checks
  std::uint64_t slot_table = 0;
  std::uint64_t slot_table_bytes = 0;
  // Inside the kernel zone (offsets from the kernel's memory's address 0).
  std::uint64_t stacks_offset = 0;  // first worker stack
  std::uint64_t stack_stride = 0;   // worker i's stack: stacks_offset + i * stack_stride

  [[nodiscard]] const ZoneEntry& zone(ZoneId id) const noexcept {
    return zones[static_cast<std::uint32_t>(id)];
  }
  friend constexpr bool operator==(const ZoneMap&, const ZoneMap&) = default;
};

// Lays the zones out in DESIGN.md §3 order. The kernel's memory: kernel zone
// at 0, then compute A B C. The engine's memory: header at 0, metadata,
// layout A B C, result A B C, control ring, hand-off ring, trace. Every zone
// starts 64-byte aligned; the nine frame zones start and end on 4 KiB pages. kInvalidArgument for a zero
// slot size, a ring capacity that is not a power of two in [2, 2^31], a handle
// capacity outside [1, 2^24], or a spec whose total passes kMaxArenaBytes.
[[nodiscard]] Result<ZoneMap> compute_zone_map(const ArenaSpec& spec) noexcept;

}  // namespace triptych
