// SPDX-License-Identifier: Apache-2.0
// Arena: the memory every stage shares, in two parts: the kernel's memory
// (kernel static data, stacks, the compute slots: all a kernel may touch) and
// the engine's memory (header, control blocks, rings, slot table, trace,
// layout and result zones: no kernel is ever given it). It is the only code
// that knows the whole zone map. It owns the mappings (anonymous mmap, sealed
// memfd) or borrows host memory (two WebAssembly.Memory objects), builds the header, triple buffers,
// rings and slot table in place, or attaches to ones another party built after
// validating every byte it will trust. Creating and attaching are blocking
// (system calls) and single-threaded; the views it hands out follow their own
// threading rules (one writer and one reader per triple buffer, ...). An Arena
// object is a move-only RAII owner; see docs/arena.md for the lifecycle and
// docs/PROTOCOL.md for the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "triptych/arena/handle.hpp"
#include "triptych/arena/zone_map.hpp"
#include "triptych/arena/protocol.hpp"
#include "triptych/core/result.hpp"
#include "triptych/ring/mpmc_ring.hpp"
#include "triptych/ring/spsc_ring.hpp"
#include "triptych/sync/triple_buffer.hpp"
#include "triptych/trace/frame_trace.hpp"

namespace triptych {

using ControlRing = SpscRing<ControlMessage>;
using HandoffRing = MpmcRing<HandoffMessage>;

enum class Backing { kAnonymous, kMemfd, kExternal };

// Which of the three triple buffers.
enum class FrameStage : std::uint32_t { kCompute = 0, kLayout, kResult };

// Host memory to adopt (two shared WebAssembly.Memory buffers, or any two
// page-aligned, non-overlapping regions). The kernel zone starts at `kernel`
// (WASM address 0, where the linker puts static data), the compute slots
// follow it; the header is at engine + engine_offset.
struct HostMemories {
  std::byte* kernel = nullptr;
  std::size_t kernel_bytes = 0;
  std::byte* engine = nullptr;
  std::size_t engine_bytes = 0;
  std::uint64_t engine_offset = 0;
};

class Arena {
 public:
  // A fresh arena in two shared anonymous mappings, one per memory (shared
  // with fork()ed children). kInvalidArgument for a bad spec, kSystem if mmap fails.
  static Result<Arena> create_anonymous(const ArenaSpec& spec) noexcept;
  // The same from a zone map compute_zone_map() gave (hosts that sized
  // memory from it build the arena without mapping the zones again).
  static Result<Arena> create_anonymous(const ZoneMap& zone_map) noexcept;

  // A fresh arena in a memfd sealed with F_SEAL_SHRINK | F_SEAL_GROW |
  // F_SEAL_SEAL, so attachers can trust its size. The Arena owns the fd
  // (close_fd() closes it early); pass fd() to other processes (fork, or
  // SCM_RIGHTS). The file holds the engine's memory, then the kernel's; each
  // is mapped on its own, so neither lies next to the other.
  static Result<Arena> create_memfd(const ArenaSpec& spec, const char* name) noexcept;

  // Maps and validates an arena another process created. The fd stays the
  // caller's (it is neither closed nor kept). kNotSealed if any of the three
  // seals is missing; kTooSmall for a truncated file; header errors as
  // validate(); kSystem for failing system calls.
  static Result<Arena> attach_memfd(int fd) noexcept;

  // Builds an arena in memory the host owns. kInvalidArgument for a null
  // memory; kMisaligned unless both memories' starts are 4 KiB-aligned;
  // kOverlap if they overlap; kTooSmall if either does not fit. The host must
  // keep both mapped for the Arena's lifetime.
  static Result<Arena> adopt(const HostMemories& memories, const ArenaSpec& spec) noexcept;
  static Result<Arena> adopt(const HostMemories& memories, const ZoneMap& zone_map) noexcept;

  // Validates and views an arena already built in `memories`.
  static Result<Arena> attach_external(const HostMemories& memories) noexcept;

  // Checks the header at `base` against `available` bytes of the engine's
  // memory from the base and `kernel_available` bytes of the kernel's
  // memory: magic, version, sizes, every zone's bounds, alignment, order and
  // overlap, and that the table matches the spec it records. Copies the 640
  // header bytes once and checks only that copy; the zone map it returns is
  // computed from the copy, never re-read. Does not check the blocks inside
  // the zones; attach_* do that too.
  static Result<ZoneMap> validate(const std::byte* base, std::size_t available,
                                      std::uint64_t kernel_available) noexcept;

  Arena(Arena&& other) noexcept;
  Arena& operator=(Arena&& other) noexcept;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena();

  // The engine's memory: the header is at base().
  [[nodiscard]] std::byte* base() const noexcept { return base_; }
  [[nodiscard]] std::size_t total_bytes() const noexcept { return zone_map_.total_bytes; }
  // The kernel's memory: the kernel zone starts at kernel_base().
  [[nodiscard]] std::byte* kernel_base() const noexcept { return kernel_base_; }
  [[nodiscard]] std::size_t kernel_bytes() const noexcept { return zone_map_.kernel_bytes; }
  [[nodiscard]] const ZoneMap& zone_map() const noexcept { return zone_map_; }
  [[nodiscard]] Backing backing() const noexcept { return backing_; }
  // The memfd (create_memfd only, until close_fd()); -1 otherwise.
  [[nodiscard]] int fd() const noexcept { return fd_; }
  void close_fd() noexcept;

  // A zone's bytes, in the memory its table row names.
  [[nodiscard]] std::span<std::byte> zone(ZoneId id) const noexcept;
  // The stack of WASM worker i, or an empty span if i >= worker_stack_count.
  [[nodiscard]] std::span<std::byte> worker_stack(std::uint32_t i) const noexcept;

  [[nodiscard]] TripleBuffer& triple_buffer(FrameStage stage) noexcept;
  // Rebuilds one stage's triple-buffer control block (fresh state, counters
  // zero, slot contents kept). For the creator after a peer process died: a
  // peer killed between its exchange and its index store leaves a stale
  // index behind. Only while no other thread or process uses that buffer.
  [[nodiscard]] Result<void> rebuild_frames(FrameStage stage) noexcept;
  [[nodiscard]] ControlRing& control() noexcept { return *control_; }
  [[nodiscard]] HandoffRing& handoffs() noexcept { return *handoffs_; }
  [[nodiscard]] SlotTable& handles() noexcept { return *handles_; }
  // The frame trace table in the trace zone; null when trace_record_capacity is 0.
  [[nodiscard]] trace::FrameTraceTable* trace() noexcept { return trace_ ? &*trace_ : nullptr; }
  [[nodiscard]] ComponentLine& component(Component c) const noexcept;
  [[nodiscard]] RejectCounters& frame_rejects() const noexcept;
  [[nodiscard]] const ArenaHeader& header() const noexcept;

  // Bytes [offset, offset + bytes) of `zone`'s memory, if they lie wholly
  // inside `zone` (kOutOfRange otherwise; the kernel zone is not addressable
  // this way). For offsets that arrive from peers.
  [[nodiscard]] Result<std::span<std::byte>> resolve(ZoneId zone, std::uint64_t offset,
                                                     std::uint64_t bytes) const;
  // A hand-off's range, which must lie in a compute, layout or result zone.
  [[nodiscard]] Result<std::span<std::byte>> resolve(const HandoffMessage& m) const;
  // FrameRef check against one stage's triple buffer, counted in frame_rejects().
  [[nodiscard]] ResolveStatus check(FrameStage stage, FrameRef ref) noexcept;

 private:
  Arena() noexcept = default;
  static Result<Arena> build(std::byte* base, std::byte* kernel_base, const ZoneMap& zone_map) noexcept;
  static Result<Arena> attach_views(std::byte* base, std::byte* kernel_base,
                                    const ZoneMap& zone_map) noexcept;
  void release() noexcept;
  // Takes `owner`'s mappings and fd (owner then releases nothing).
  void take_mappings(Arena& owner) noexcept;
  [[nodiscard]] std::byte* memory_of(ZoneId id) const noexcept;
  [[nodiscard]] TripleBuffer::SlotMemory slot_memory(FrameStage stage) const noexcept;

  ZoneMap zone_map_{};
  std::byte* base_ = nullptr;
  std::byte* kernel_base_ = nullptr;
  std::byte* map_ = nullptr;  // what we munmap; null when the host owns the memory
  std::size_t map_bytes_ = 0;
  std::byte* kernel_map_ = nullptr;
  std::size_t kernel_map_bytes_ = 0;
  int fd_ = -1;
  Backing backing_ = Backing::kExternal;
  std::optional<TripleBuffer> triple_buffers_[3];
  std::optional<ControlRing> control_;
  std::optional<HandoffRing> handoffs_;
  std::optional<SlotTable> handles_;
  std::optional<trace::FrameTraceTable> trace_;
};

}  // namespace triptych
