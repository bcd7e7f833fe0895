// SPDX-License-Identifier: Apache-2.0
// The arena's own shared-memory types: the header at the arena base (magic,
// version, sizes, the spec it was built from, the metadata directory and the
// zone table), the per-component hot lines, and the two ring message types.
// Plain data, no code that blocks; the creator writes the header once and
// release-stores `initialized` last, everyone else only reads it. Every byte
// is listed in docs/PROTOCOL.md; the design is docs/arena.md.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "triptych/arena/zone_map.hpp"
#include "triptych/core/config.hpp"

namespace triptych {

inline constexpr std::uint64_t kArenaMagic = 0x4843'5954'5049'5254ull;  // "TRIPTYCH" little-endian
// Bumped on any change to a byte's meaning or position, in this header or in
// any block it places (rings, triple buffers, slot table, messages), and on
// any change to compute_zone_map(). attach refuses every other version.
inline constexpr std::uint32_t kArenaVersion = 2;

// At the arena base, 640 bytes (ten cache lines). Written only by the creator
// before `initialized`; immutable afterwards.
struct ArenaHeader {
  // Line 0: identity and sizes.
  std::uint64_t magic;                     //   0
  std::uint32_t version;                   //   8
  std::atomic<std::uint32_t> initialized;  //  12: 1 once everything is built
  std::uint32_t header_bytes;              //  16: sizeof(ArenaHeader)
  std::uint32_t flags;                     //  20: 0 (no flags defined)
  std::uint64_t total_bytes;               //  24: the engine's memory, base .. end
  std::uint64_t kernel_bytes;              //  32: the kernel's memory, from its address 0
  std::uint32_t zone_count;                //  40: kZoneCount
  std::uint32_t zone_entry_bytes;          //  44: 24
  std::uint32_t control_ring_capacity;     //  48
  std::uint32_t handoff_ring_capacity;     //  52
  std::uint32_t handle_capacity;           //  56
  std::uint32_t worker_stack_count;        //  60
  // Line 1: the rest of the spec.
  std::uint64_t worker_stack_bytes;     //  64
  std::uint64_t kernel_static_bytes;    //  72
  std::uint64_t trace_record_capacity;  //  80
  std::uint64_t compute_slot_bytes;     //  88
  std::uint64_t layout_slot_bytes;      //  96
  std::uint64_t result_slot_bytes;      // 104
  std::uint64_t stacks_offset;          // 112: in the kernel zone
  std::uint64_t stack_stride;           // 120
  // Line 2: where the metadata zone's blocks are (offsets from the base).
  std::uint64_t tb_control[3];     // 128: compute, layout, result
  std::uint64_t components;        // 152
  std::uint64_t frame_rejects;     // 160
  std::uint64_t slot_table;        // 168
  std::uint64_t slot_table_bytes;  // 176
  std::uint32_t component_count;   // 184: kComponentCount
  std::uint32_t reserved0;         // 188
  // Lines 3..8: the zone table, indexed by ZoneId.
  ZoneEntry zones[kMaxZones];  // 192 .. 576
  std::uint8_t reserved1[64];  // 576 .. 640

  ArenaHeader() = default;
  ArenaHeader(const ArenaHeader&) = delete;
  ArenaHeader& operator=(const ArenaHeader&) = delete;
};
static_assert(std::is_standard_layout_v<ArenaHeader>, "read by other processes, JS and WASM");
static_assert(sizeof(ArenaHeader) == 10 * kCacheLine, "PROTOCOL.md fixes the header at 640 B");
static_assert(offsetof(ArenaHeader, magic) == 0 && offsetof(ArenaHeader, version) == 8,
              "magic and version come first, in every version");
static_assert(offsetof(ArenaHeader, initialized) == 12 && offsetof(ArenaHeader, total_bytes) == 24,
              "offsets are part of PROTOCOL.md");
static_assert(offsetof(ArenaHeader, worker_stack_bytes) == 64 &&
                  offsetof(ArenaHeader, tb_control) == 128 &&
                  offsetof(ArenaHeader, component_count) == 184 &&
                  offsetof(ArenaHeader, zones) == 192,
              "offsets are part of PROTOCOL.md");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free,
              "initialized is read as a plain 32-bit word by JS");

// Lifecycle of a component, as it reports itself on its hot line.
enum class ComponentState : std::uint32_t { kAbsent = 0, kStarting, kRunning, kStopped, kFailed };

// One component's hot line: only that component writes it (relaxed: these are
// liveness and progress reports, they publish no other data); anyone reads.
struct alignas(kCacheLine) ComponentLine {
  std::atomic<std::uint64_t> heartbeat;  // 0: bumped while alive
  std::atomic<std::uint64_t> frame;      // 8: last frame this component finished
  std::atomic<std::uint32_t> pid;        // 16: process running it, 0 if none
  std::atomic<std::uint32_t> state;      // 20: ComponentState
  std::uint8_t reserved[kCacheLine - 24];
};
static_assert(std::is_standard_layout_v<ComponentLine>, "read by other processes");
static_assert(sizeof(ComponentLine) == kCacheLine, "one writer per cache line");

// Host -> engine control messages (SpscRing<ControlMessage>). kind is a raw
// integer in shared memory: the consumer checks it against ControlKind.
enum class ControlKind : std::uint32_t {
  kNop = 0,
  kStart,  // arg0: first frame id
  kStop,
  kSetFrameRate,  // arg0: frame period in ns
  kResize,        // arg0: width, arg1: height
  kPing,          // arg0: echoed in the component line's frame counter
  kShutdown,
};
inline constexpr std::uint32_t kControlKindCount = 7;

struct ControlMessage {
  std::uint32_t kind;      // 0: ControlKind
  std::uint32_t flags;     // 4: 0 in version 1
  std::uint64_t sequence;  // 8: sender's counter, 1, 2, ...: gaps show loss
  std::uint64_t arg0;      // 16
  std::uint64_t arg1;      // 24
};
static_assert(std::is_trivially_copyable_v<ControlMessage> &&
                  std::is_standard_layout_v<ControlMessage>,
              "ring elements are copied byte-wise across processes");
static_assert(sizeof(ControlMessage) == 32, "PROTOCOL.md fixes a control message at 32 B");

// Stage -> stage hand-offs (MpmcRing<HandoffMessage>): "bytes [offset,
// offset+bytes) of `zone` hold chunk `chunk` of frame `frame`". offset is
// from the arena base and is validated (Arena::resolve) before use.
enum class HandoffKind : std::uint16_t {
  kComputeChunk = 1,  // a chunk of compute work to run
  kChunkDone,         // a worker finished that chunk
  kLayoutReady,       // the layout pass filled a layout slot
  kResultReady,       // a readback landed in a result slot
};

struct HandoffMessage {
  std::uint64_t frame;        //  0
  std::uint64_t offset;       //  8: from the arena base
  std::uint32_t bytes;        // 16
  std::uint16_t zone;         // 20: ZoneId the range must lie in
  std::uint16_t kind;         // 22: HandoffKind
  std::uint32_t chunk;        // 24
  std::uint32_t chunk_count;  // 28
};
static_assert(std::is_trivially_copyable_v<HandoffMessage> &&
                  std::is_standard_layout_v<HandoffMessage>,
              "ring elements are copied byte-wise across processes");
static_assert(sizeof(HandoffMessage) == 32, "PROTOCOL.md fixes a hand-off message at 32 B");

}  // namespace triptych
