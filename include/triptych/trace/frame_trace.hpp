// SPDX-License-Identifier: Apache-2.0
// FrameTraceTable: the per-frame trace records, a shared-memory ring of
// 64-byte lines (one per frame) that any thread, process or JS/WASM worker
// mapping the same bytes stamps with CLOCK_MONOTONIC nanoseconds. One producer
// (the frame loop) opens a record per frame with begin_frame(); any thread then
// stamps it with stamp() (lock-free: one load and one CAS, no allocation); a
// reader copies records out with try_read() and detects torn reads through the
// frame word, which doubles as the record's sequence number. The byte layout
// is a cross-language contract: docs/tracing.md ("Record bytes") and PROTOCOL.md.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <vector>

#include "triptych/core/config.hpp"
#include "triptych/core/result.hpp"

namespace triptych::trace {

// The six stamps of a frame, in the order a healthy frame takes them.
enum class Stage : std::uint32_t {
  kQueued = 0,
  kComputeStart = 1,
  kComputeEnd = 2,
  kRenderStart = 3,
  kRenderEnd = 4,
  kPresented = 5,
};
inline constexpr std::size_t kStageCount = 6;

[[nodiscard]] std::string_view stage_name(Stage s) noexcept;

// Record flags (FrameTraceRecord::flags).
inline constexpr std::uint32_t kFlagDropped = 1u << 0;    // the pipeline skipped this frame
inline constexpr std::uint32_t kFlagDuplicate = 1u << 1;  // someone stamped a stage twice
// The frame failed (a kernel error, trap or deadline, a lost worker, or a
// render failure): never shown, and counted apart from dropped frames. A new
// bit in the existing flags word; the record's bytes are unchanged.
inline constexpr std::uint32_t kFlagFailed = 1u << 2;

// One frame, one cache line. `frame` holds frame id + 1 (0: never used,
// kOpening: being reset by the producer) and is the sequence word a reader
// checks before and after copying the stamps. A stamp of 0 means "not yet".
struct alignas(kCacheLine) FrameTraceRecord {
  std::atomic<std::uint64_t> frame{0};                           // +0
  std::array<std::atomic<std::uint64_t>, kStageCount> stamps{};  // +8 .. +55
  std::atomic<std::uint32_t> flags{0};                           // +56
  std::uint32_t reserved{0};                                     // +60, always 0

  FrameTraceRecord() = default;
  FrameTraceRecord(const FrameTraceRecord&) = delete;
  FrameTraceRecord& operator=(const FrameTraceRecord&) = delete;
};
inline constexpr std::uint64_t kFrameOpening = ~std::uint64_t{0};

static_assert(std::is_standard_layout_v<FrameTraceRecord>,
              "records are read by other processes and JS");
static_assert(sizeof(FrameTraceRecord) == kCacheLine,
              "PROTOCOL.md: one record is exactly one cache line");
static_assert(offsetof(FrameTraceRecord, frame) == 0, "PROTOCOL.md: frame word at +0");
static_assert(offsetof(FrameTraceRecord, stamps) == 8, "PROTOCOL.md: stamps at +8, stage-indexed");
static_assert(offsetof(FrameTraceRecord, flags) == 56, "PROTOCOL.md: flags at +56");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "JS Atomics and WASM i64.atomic need plain lock-free 64-bit words");
static_assert(sizeof(std::atomic<std::uint64_t>) == 8, "an atomic u64 must be the bare integer");

// The table header: two cache lines. Line 0 is written by create() and the
// producer (`issued`); line 1 holds error counters any stamper may bump, so
// they never slow the producer's line.
struct alignas(kCacheLine) FrameTraceHeader {
  std::uint32_t magic{0};                          // +0  kFrameTraceMagic
  std::uint32_t version{0};                        // +4  kFrameTraceVersion
  std::uint32_t capacity{0};                       // +8  records, a power of two
  std::uint32_t record_bytes{0};                   // +12 64
  std::uint64_t records_offset{0};                 // +16 from the header start: 128
  std::atomic<std::uint32_t> initialized{0};       // +24 release-stored last by create()
  std::uint32_t reserved0{0};                      // +28
  std::atomic<std::uint64_t> issued{0};            // +32 frames opened so far (producer)
  std::array<std::uint8_t, 24> pad0{};             // +40
  std::atomic<std::uint64_t> stale_stamps{0};      // +64 stamps for a frame not in its record
  std::atomic<std::uint64_t> duplicate_stamps{0};  // +72 a stage stamped twice
  std::atomic<std::uint64_t> invalid_stamps{0};    // +80 a stamp of 0 or a bad stage
  std::array<std::uint8_t, 40> pad1{};             // +88

  FrameTraceHeader() = default;
  FrameTraceHeader(const FrameTraceHeader&) = delete;
  FrameTraceHeader& operator=(const FrameTraceHeader&) = delete;
};
inline constexpr std::uint32_t kFrameTraceMagic = 0x52545054;  // "TPTR" little-endian
inline constexpr std::uint32_t kFrameTraceVersion = 1;
inline constexpr std::uint32_t kFrameTraceMinCapacity = 2;
inline constexpr std::uint32_t kFrameTraceMaxCapacity = 1u << 24;

static_assert(std::is_standard_layout_v<FrameTraceHeader>,
              "the header is read by other processes and JS");
static_assert(sizeof(FrameTraceHeader) == 2 * kCacheLine,
              "PROTOCOL.md: the header is two cache lines");
static_assert(offsetof(FrameTraceHeader, initialized) == 24, "PROTOCOL.md: initialized at +24");
static_assert(offsetof(FrameTraceHeader, issued) == 32, "PROTOCOL.md: issued at +32");
static_assert(offsetof(FrameTraceHeader, stale_stamps) == kCacheLine,
              "stamper-written counters must not share the producer's cache line");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "initialized is read by JS Atomics");

// A plain copy of one record, taken by try_read().
struct FrameSnapshot {
  std::uint64_t frame = 0;
  std::array<std::uint64_t, kStageCount> stamps{};
  std::uint32_t flags = 0;

  [[nodiscard]] std::uint64_t at(Stage s) const noexcept {
    return stamps[static_cast<std::size_t>(s)];
  }
};

enum class StampStatus {
  kOk,         // the stamp is in the frame's record
  kStale,      // the record holds another frame (too late, or never issued): counted
  kDuplicate,  // that stage was already stamped; the first stamp is kept: counted
  kInvalid,    // a stamp of 0 or a stage out of range: counted
};

enum class ReadStatus {
  kOk,       // `out` is a consistent copy of the frame's record
  kMissing,  // the record holds another frame (overwritten, or not issued yet)
  kTorn,     // the producer reused the record while we copied it
};

// What collect() saw, besides the frames it copied.
struct CollectCounts {
  std::uint64_t lost = 0;  // frames overwritten before they were read (ring too small)
  std::uint64_t torn = 0;  // frames reused while being read
};

// A handle onto a table in memory someone else owns (the arena's trace zone,
// a test's buffer). Copyable: it is two pointers; the table itself is not.
class FrameTraceTable {
 public:
  // Bytes a table of `capacity` records needs: header + records.
  [[nodiscard]] static constexpr std::size_t required_bytes(std::uint32_t capacity) noexcept {
    return sizeof(FrameTraceHeader) + static_cast<std::size_t>(capacity) * sizeof(FrameTraceRecord);
  }

  // Builds an empty table in place. `mem` must be 64-byte aligned, `bytes` at
  // least required_bytes(capacity), capacity a power of two in
  // [kFrameTraceMinCapacity, kFrameTraceMaxCapacity]. Not thread-safe: nobody
  // may attach until it returns. Does not allocate.
  [[nodiscard]] static Result<FrameTraceTable> create(void* mem, std::size_t bytes,
                                                      std::uint32_t capacity);

  // Attaches to a table another thread or process created. Validates magic,
  // version, capacity, record size and that the records fit in `bytes`;
  // garbage bytes give an Error, never a crash. Does not allocate on success.
  [[nodiscard]] static Result<FrameTraceTable> attach(void* mem, std::size_t bytes);

  // Producer only (one thread, across all attached processes): opens the next
  // frame's record, stamps `queued`, and returns the new frame id (dense, from
  // 0). Overwrites the record of frame id - capacity. Wait-free.
  std::uint64_t begin_frame(std::uint64_t queued_ns) noexcept;

  // Any thread: stamps `stage` of `frame` once. Lock-free (a load and a CAS),
  // allocation-free. A stamp for a frame whose record holds another frame, a
  // second stamp of a stage, or a stamp of 0 is refused and counted.
  StampStatus stamp(std::uint64_t frame, Stage stage, std::uint64_t ns) noexcept;

  // Any thread: flags `frame` as dropped (the pipeline skipped it). Returns
  // false when the record holds another frame.
  bool mark_dropped(std::uint64_t frame) noexcept;

  // Any thread: flags `frame` as failed (kFlagFailed). Returns false when the
  // record holds another frame.
  bool mark_failed(std::uint64_t frame) noexcept;

  // Any thread: copies `frame`'s record. Never blocks the writers.
  [[nodiscard]] ReadStatus try_read(std::uint64_t frame, FrameSnapshot& out) const noexcept;

  // Reader: appends frames [first, issued()) still in the ring to `out`
  // (retrying torn reads a few times) and counts the rest. Allocates (`out`).
  // Returns the frame id to pass as `first` next time.
  std::uint64_t collect(std::uint64_t first, std::vector<FrameSnapshot>& out,
                        CollectCounts& counts) const;

  [[nodiscard]] std::uint64_t issued() const noexcept;
  [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::uint64_t stale_stamps() const noexcept;
  [[nodiscard]] std::uint64_t duplicate_stamps() const noexcept;
  [[nodiscard]] std::uint64_t invalid_stamps() const noexcept;

 private:
  FrameTraceTable(FrameTraceHeader* header, FrameTraceRecord* records,
                  std::uint32_t capacity) noexcept
      : header_(header), records_(records), capacity_(capacity) {}

  bool set_flag(std::uint64_t frame, std::uint32_t flag) noexcept;
  [[nodiscard]] FrameTraceRecord& record(std::uint64_t frame) const noexcept {
    return records_[frame & (capacity_ - 1)];
  }

  FrameTraceHeader* header_;
  FrameTraceRecord* records_;
  std::uint32_t capacity_;
};

}  // namespace triptych::trace
