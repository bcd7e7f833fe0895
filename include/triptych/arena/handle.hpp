// SPDX-License-Identifier: Apache-2.0
// Generational handles: a Handle {index, generation} names a slot of a
// SlotTable that lives in shared memory, and resolves only while the index is
// in bounds and the slot still carries that generation; stale and out-of-range
// handles are rejected and counted, never followed. Also FrameRef, the same
// check against a TripleBuffer's per-slot generations. resolve/try_resolve are
// wait-free and may be called by any thread of any process that attached the
// table; try_allocate/release belong to one owner thread. Byte layout in
// docs/PROTOCOL.md, design in docs/arena.md.
#pragma once

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>

#include "triptych/core/config.hpp"
#include "triptych/core/result.hpp"

namespace triptych {

// A reference to a slot of a SlotTable. 8 bytes, trivially copyable: it may be
// stored in shared memory and sent through rings. Generation 0 is never live,
// so a zeroed Handle never resolves.
struct Handle {
  std::uint32_t index = 0;
  std::uint32_t generation = 0;
  friend constexpr bool operator==(Handle, Handle) = default;
};
static_assert(std::is_trivially_copyable_v<Handle> && std::is_standard_layout_v<Handle>,
              "handles travel through shared memory");
static_assert(sizeof(Handle) == 8, "PROTOCOL.md fixes a handle at 8 bytes");

// A reference to a frame in one of a TripleBuffer's three slots, carrying the
// full 64-bit frame generation (a 32-bit one would wrap within a year at 120 Hz).
struct FrameRef {
  std::uint64_t generation = 0;
  std::uint32_t slot = 0;
  std::uint32_t reserved = 0;
  friend constexpr bool operator==(const FrameRef&, const FrameRef&) = default;
};
static_assert(std::is_trivially_copyable_v<FrameRef> && std::is_standard_layout_v<FrameRef>,
              "frame references travel through shared memory");
static_assert(sizeof(FrameRef) == 16, "PROTOCOL.md fixes a frame reference at 16 bytes");

enum class ResolveStatus : std::uint32_t { kOk, kStale, kOutOfRange };

// Rejected lookups, per reason. Relaxed increments: they are statistics, read
// by observers, and order nothing. One cache line of its own so that rejecting
// readers never slow the owner's hot line.
struct alignas(kCacheLine) RejectCounters {
  std::atomic<std::uint64_t> stale{0};
  std::atomic<std::uint64_t> out_of_range{0};

  void count(ResolveStatus s) noexcept {
    if (s == ResolveStatus::kStale) stale.fetch_add(1, std::memory_order_relaxed);
    if (s == ResolveStatus::kOutOfRange) out_of_range.fetch_add(1, std::memory_order_relaxed);
  }
};
static_assert(std::is_standard_layout_v<RejectCounters>, "read by other processes");
static_assert(sizeof(RejectCounters) == kCacheLine, "counters own exactly one cache line");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "shared counters must be plain lock-free words");

// Anything that reports a generation per frame slot (TripleBuffer does).
template <class T>
concept FrameSlotSource = requires(const T& t, std::uint32_t i) {
  { t.slot_generation(i) } -> std::convertible_to<std::uint64_t>;
};

inline constexpr std::uint32_t kFrameSlots = 3;

// Checks that `ref` still names the frame its slot holds: slot < 3 and the
// slot's generation equals ref.generation. A pass does not grant access to the
// slot's bytes; only the TripleBuffer side that owns the slot may read them.
// Rejections are counted in `counters` when given. Wait-free.
template <FrameSlotSource S>
[[nodiscard]] ResolveStatus check_frame_ref(const S& source, FrameRef ref,
                                            RejectCounters* counters) noexcept {
  ResolveStatus s = ResolveStatus::kOk;
  if (ref.slot >= kFrameSlots) {
    s = ResolveStatus::kOutOfRange;
  } else if (static_cast<std::uint64_t>(source.slot_generation(ref.slot)) != ref.generation) {
    s = ResolveStatus::kStale;
  }
  if (counters != nullptr) counters->count(s);
  return s;
}

// The table's shared bytes: a 128-byte header (identity line + counters line)
// followed by `capacity` 16-byte cells. Defined here so that the byte layout is
// checked at compile time; only SlotTable touches it.
namespace slot_table_detail {

inline constexpr std::uint64_t kMagic = 0x4C42'5454'4F4C'5354ull;  // "TSLOTTBL" little-endian
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::uint32_t kMaxCapacity = 1u << 24;

struct Header {
  std::uint64_t magic;                     // 0
  std::uint32_t version;                   // 8
  std::atomic<std::uint32_t> initialized;  // 12: 1 once the cells are built
  std::uint32_t capacity;                  // 16
  std::uint32_t cell_bytes;                // 20
  std::atomic<std::uint32_t> live;         // 24: owner writes, anyone reads (relaxed)
  std::uint8_t reserved0[kCacheLine - 28];
  RejectCounters rejects;  // 64
};
static_assert(std::is_standard_layout_v<Header>, "read by other processes and languages");
static_assert(sizeof(Header) == 2 * kCacheLine, "PROTOCOL.md fixes the slot table header at 128 B");
static_assert(offsetof(Header, initialized) == 12 && offsetof(Header, live) == 24 &&
                  offsetof(Header, rejects) == 64,
              "offsets are part of PROTOCOL.md");

// Generation: odd = live, even = free. Value: caller-defined (usually an
// arena offset), valid only while the generation read before and after it is
// the handle's.
struct Cell {
  std::atomic<std::uint32_t> generation;
  std::uint32_t reserved;
  std::atomic<std::uint64_t> value;
};
static_assert(std::is_standard_layout_v<Cell>, "read by other processes and languages");
static_assert(sizeof(Cell) == 16 && offsetof(Cell, value) == 8, "PROTOCOL.md fixes a cell at 16 B");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "generations are plain words");

}  // namespace slot_table_detail

// A non-owning view of a slot table in shared memory. Copyable (it is a view);
// the shared bytes themselves are never copied or moved.
class SlotTable {
 public:
  // Bytes a table of `capacity` cells occupies; 0 if capacity is 0 or above
  // 2^24. Start must be 64-byte aligned.
  [[nodiscard]] static constexpr std::size_t required_bytes(std::uint32_t capacity) noexcept {
    if (capacity == 0 || capacity > slot_table_detail::kMaxCapacity) return 0;
    return sizeof(slot_table_detail::Header) +
           std::size_t{capacity} * sizeof(slot_table_detail::Cell);
  }

  // Builds an empty table in place (every slot free, generation 0) and
  // release-stores `initialized` last. Errors: kInvalidArgument (capacity),
  // kMisaligned, kTooSmall. Does not allocate.
  static Result<SlotTable> create(std::byte* mem, std::size_t bytes,
                                  std::uint32_t capacity) noexcept;

  // Validates a table another party built: alignment, initialized, magic,
  // version, cell size, capacity against `bytes`. Any mismatch is a typed
  // Error; nothing outside [mem, mem+bytes) is read.
  static Result<SlotTable> attach(std::byte* mem, std::size_t bytes) noexcept;

  // Owner only. Takes a free slot, stores `value`, makes it live, and returns
  // its handle; nullopt when every slot is live. Wait-free, O(capacity) worst case.
  [[nodiscard]] std::optional<Handle> try_allocate(std::uint64_t value) noexcept;

  // Owner only. Retires a live handle: bumps its slot's generation so that
  // every copy of `h` stops resolving. False (and nothing changes) when `h` is
  // not live.
  [[nodiscard]] bool release(Handle h) noexcept;

  // Any thread, any process. kOk and `out` = the slot's value when `h` is
  // live; kOutOfRange when h.index >= capacity; kStale otherwise. Rejections
  // are counted. Wait-free, allocation-free.
  [[nodiscard]] ResolveStatus try_resolve(Handle h, std::uint64_t& out) const noexcept;

  // As try_resolve, with a readable Error (kStale / kOutOfRange) on failure.
  [[nodiscard]] Result<std::uint64_t> resolve(Handle h) const;

  [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::uint32_t live() const noexcept;
  [[nodiscard]] std::uint64_t stale_rejections() const noexcept;
  [[nodiscard]] std::uint64_t out_of_range_rejections() const noexcept;

 private:
  SlotTable(slot_table_detail::Header* header, std::uint32_t capacity) noexcept;

  slot_table_detail::Header* header_;
  slot_table_detail::Cell* cells_;
  std::uint32_t capacity_;    // local copy: a peer rewriting the shared one cannot widen our bounds
  std::uint32_t cursor_ = 0;  // owner's next place to look for a free slot
};

}  // namespace triptych
