// SPDX-License-Identifier: Apache-2.0
// TripleBuffer: one writer hands whole frames to one reader through three
// slots in the arena, swapping slot ownership with a single atomic exchange
// per side (HadrienG2/triple-buffer's protocol plus a generation). publish()
// and acquire_latest() are wait-free and never block each other; the reader
// always gets the newest complete frame, and frames it did not read in time
// are counted as dropped. wait_for_new() is the only blocking call (futex).
// Exactly one writer thread calls write_slot()/publish(), exactly one reader
// thread calls acquire_latest()/has_new()/wait_for_new(), possibly in another
// process; any thread may read the counters. After a peer process dies, the
// survivor's role thread calls recover_dead_writer()/recover_dead_reader()
// between its own calls. Design: docs/sync.md
// ("Triple buffer"); byte layout: TripleBufferControl below.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <string>
#include <type_traits>

#include "triptych/core/config.hpp"
#include "triptych/core/result.hpp"
#include "triptych/sync/futex.hpp"

namespace triptych {

// The state word both sides exchange: bits 0-1 back slot index, bit 2 dirty
// (the back slot holds a frame the reader has not taken), bits 3-63 the
// generation of the frame in the back slot.
namespace tb_state {
inline constexpr std::uint64_t kIndexMask = 0b011;
inline constexpr std::uint64_t kDirtyBit = 0b100;
inline constexpr unsigned kGenerationShift = 3;

[[nodiscard]] constexpr std::uint64_t pack(std::uint32_t index, bool dirty,
                                           std::uint64_t generation) noexcept {
  return (generation << kGenerationShift) | (dirty ? kDirtyBit : 0) | (index & kIndexMask);
}
[[nodiscard]] constexpr std::uint32_t index(std::uint64_t s) noexcept {
  return static_cast<std::uint32_t>(s & kIndexMask);
}
[[nodiscard]] constexpr bool dirty(std::uint64_t s) noexcept {
  return (s & kDirtyBit) != 0;
}
[[nodiscard]] constexpr std::uint64_t generation(std::uint64_t s) noexcept {
  return s >> kGenerationShift;
}
}  // namespace tb_state

// The control block, in the arena's metadata zone. Four cache lines, each with
// one writer: the header (creator, then immutable), the state line (both
// sides, by design: it is the hand-off), the writer's line and the reader's
// line. Every slot index stored here is re-checked before it is used.
struct TripleBufferControl {
  // Line 0: header. magic is release-stored last by create().
  std::atomic<std::uint32_t> magic;
  std::uint32_t version;
  std::uint64_t slot_bytes;
  std::uint64_t slot_offsets[3];
  std::uint64_t control_offset;  // where create() put us: catches a wrong attach offset
  std::uint8_t reserved0[16];

  // Line 1: the one line both sides write. Each publish and each successful
  // acquire is one RMW of `state`; a hand-off has to move this line between
  // the two cores anyway, so sharing it costs nothing extra. The publish
  // counter sits beside it so the writer's wake touches a line it already owns.
  alignas(kCacheLine) std::atomic<std::uint64_t> state;
  WaitWord publish_word;  // value: publish count mod 2^32; waiters: the reader
  std::uint8_t reserved1[kCacheLine - sizeof(std::uint64_t) - sizeof(WaitWord)];

  // Line 2: written by the writer only.
  alignas(kCacheLine) std::atomic<std::uint64_t> published;  // == newest generation
  std::atomic<std::uint64_t> dropped;                        // overwritten unread
  std::atomic<std::uint64_t> slot_generation[3];             // generation of each slot's last frame
  std::atomic<std::uint32_t> writer_index;                   // the slot the writer fills
  std::uint32_t reserved2;
  std::atomic<std::uint64_t> writer_rejected;  // out-of-range indices seen

  // Line 3: written by the reader only.
  alignas(kCacheLine) std::atomic<std::uint64_t> consumed;  // frames taken
  std::atomic<std::uint64_t> front_generation;              // generation the reader holds
  std::atomic<std::uint32_t> reader_index;                  // the slot the reader holds
  std::uint32_t reserved3;
  std::atomic<std::uint64_t> reader_rejected;
  std::uint8_t reserved4[kCacheLine - 4 * sizeof(std::uint64_t)];

  TripleBufferControl() = default;
  TripleBufferControl(const TripleBufferControl&) = delete;
  TripleBufferControl& operator=(const TripleBufferControl&) = delete;
};

static_assert(std::is_standard_layout_v<TripleBufferControl>,
              "the control block is read by other processes, JS and WASM");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "atomics in shared memory must be lock-free to be address-free");
static_assert(sizeof(std::atomic<std::uint64_t>) == 8 && sizeof(std::atomic<std::uint32_t>) == 4,
              "PROTOCOL.md gives each atomic its plain integer width");
static_assert(sizeof(TripleBufferControl) == 4 * kCacheLine,
              "header, shared line, writer line, reader line: four lines, no more");
static_assert(alignof(TripleBufferControl) == kCacheLine, "lines must not straddle");
static_assert(offsetof(TripleBufferControl, magic) == 0, "magic first, like every shared header");
static_assert(offsetof(TripleBufferControl, version) == 4, "version right after magic");
static_assert(offsetof(TripleBufferControl, state) == 1 * kCacheLine,
              "the exchanged state word must not share a line with the header");
static_assert(offsetof(TripleBufferControl, publish_word) == kCacheLine + 8,
              "the wake word rides on the state line the writer already owns");
static_assert(offsetof(TripleBufferControl, published) == 2 * kCacheLine,
              "writer-owned counters must be a cache line apart from the state word");
static_assert(offsetof(TripleBufferControl, writer_rejected) < 3 * kCacheLine,
              "all writer-owned fields must fit on the writer's line");
static_assert(offsetof(TripleBufferControl, consumed) == 3 * kCacheLine,
              "reader-owned counters must be a cache line apart from the writer's");
static_assert(sizeof(std::size_t) == 8, "slot sizes and offsets are 64-bit");

class TripleBuffer {
 public:
  static constexpr std::size_t kControlBytes = sizeof(TripleBufferControl);
  static constexpr std::uint32_t kMagic = 0x46554254;  // "TBUF" little-endian
  static constexpr std::uint32_t kVersion = 1;
  static constexpr std::uint32_t kSlots = 3;
  static_assert(kControlBytes % kCacheLine == 0, "the arena packs control blocks by lines");

  // What the reader holds after acquire_latest(): its slot's bytes, the
  // generation of the frame in it (0 = nothing was ever published), and
  // whether this call took a newer frame than the previous call returned.
  struct Frame {
    std::span<const std::byte> data;
    std::uint64_t generation;
    bool is_new;
  };

  // A snapshot of who owns which slot; exact only while both sides are idle.
  struct Indices {
    std::uint32_t writer;
    std::uint32_t back;
    std::uint32_t reader;
  };

  // Builds the control block in place at arena_base + control_offset and
  // records the three slots. The slots' contents are left as they are. Fails
  // (never crashes) on a null or misaligned base, a control block or slot
  // outside the arena (kTooSmall / kOutOfRange), a slot offset that is not
  // 64-aligned (kMisaligned), or slots that overlap each other or the
  // control block (kOverlap). Not thread-safe: nobody may use the block yet.
  static Result<TripleBuffer> create(std::byte* arena_base, std::size_t arena_bytes,
                                     std::uint64_t control_offset,
                                     std::array<std::uint64_t, 3> slot_offsets,
                                     std::uint64_t slot_bytes) noexcept {
    return create(arena_base, arena_bytes, control_offset, SlotMemory{arena_base, arena_bytes},
                  slot_offsets, slot_bytes);
  }

  // The memory the slots lie in, when it is not the control block's (the
  // compute slots are in the kernel's memory, their control block in the
  // engine's). Slot offsets count from `base`.
  struct SlotMemory {
    std::byte* base = nullptr;
    std::size_t bytes = 0;
  };
  static Result<TripleBuffer> create(std::byte* arena_base, std::size_t arena_bytes,
                                     std::uint64_t control_offset, SlotMemory slots,
                                     std::array<std::uint64_t, 3> slot_offsets,
                                     std::uint64_t slot_bytes) noexcept;

  // Validates a block create() built (possibly in another process) against
  // the bytes actually available: magic, version, the recorded control
  // offset, every slot's bounds, alignment and overlap, and each slot index.
  // A corrupt or hostile block yields a typed Error, never a crash.
  static Result<TripleBuffer> attach(std::byte* arena_base, std::size_t arena_bytes,
                                     std::uint64_t control_offset) noexcept {
    return attach(arena_base, arena_bytes, control_offset, SlotMemory{arena_base, arena_bytes});
  }
  static Result<TripleBuffer> attach(std::byte* arena_base, std::size_t arena_bytes,
                                     std::uint64_t control_offset, SlotMemory slots) noexcept;

  // --- writer side (one thread) ---

  // The slot the writer fills next. Stable until publish(). Wait-free.
  [[nodiscard]] std::span<std::byte> write_slot() const noexcept {
    const std::uint32_t w = ctl_->writer_index.load(std::memory_order_relaxed);
    return {slots_[checked(w)], slot_bytes_};
  }

  // Hands the write slot to the reader as the newest frame and takes the old
  // back slot to fill next. Returns the generation published (1, 2, ...).
  // If the previous frame was never read it is dropped and counted. Wait-free
  // (one exchange); the wake costs a syscall only if the reader sleeps.
  std::uint64_t publish() noexcept {
    const std::uint32_t w = checked(ctl_->writer_index.load(std::memory_order_relaxed));
    const std::uint64_t g = ctl_->published.load(std::memory_order_relaxed) + 1;
    ctl_->slot_generation[w].store(g, std::memory_order_relaxed);  // published below
    // SYNC(tb-state): release publishes slot w's bytes and its generation to
    // the reader; acquire takes ownership of the old back slot only after the
    // reader's last reads of it (the reader released it with its exchange).
    const std::uint64_t old =
        ctl_->state.exchange(tb_state::pack(w, true, g), std::memory_order_acq_rel);
    std::uint32_t next = tb_state::index(old);
    if (next >= kSlots || next == w) [[unlikely]] {
      // Only a corrupt peer can get here. Keep filling w rather than index
      // out of bounds; the count makes the corruption visible.
      ctl_->writer_rejected.store(ctl_->writer_rejected.load(std::memory_order_relaxed) + 1,
                                  std::memory_order_relaxed);
      next = w;
    }
    ctl_->writer_index.store(next, std::memory_order_relaxed);
    if (tb_state::dirty(old)) {
      ctl_->dropped.store(ctl_->dropped.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
    }
    ctl_->published.store(g, std::memory_order_relaxed);
    // SYNC(tb-wake): seq_cst RMW after the exchange; wait_for_new's acquire
    // load of the counter, if it sees this bump, also sees the dirty state.
    (void)fetch_add_and_wake(ctl_->publish_word, 1, INT_MAX);
    return g;
  }

  // --- reader side (one thread) ---

  // True if a frame newer than the reader's is waiting. Wait-free, no write.
  [[nodiscard]] bool has_new() const noexcept {
    // SYNC(tb-state): acquire pairs with publish()'s exchange.
    return tb_state::dirty(ctl_->state.load(std::memory_order_acquire));
  }

  // Takes the newest published frame if there is one the reader has not
  // seen, giving its previous slot back; otherwise returns the slot it
  // already holds with is_new == false. The span stays valid and unchanged
  // until the next acquire_latest(). Wait-free (one load, at most one swap).
  Frame acquire_latest() noexcept {
    const std::uint32_t r = checked(ctl_->reader_index.load(std::memory_order_relaxed));
    const std::uint64_t held = ctl_->front_generation.load(std::memory_order_relaxed);
    // SYNC(tb-state): acquire pairs with publish()'s exchange.
    if (!tb_state::dirty(ctl_->state.load(std::memory_order_acquire))) {
      return {{slots_[r], slot_bytes_}, held, false};
    }
    // SYNC(tb-state): release hands slot r (and our reads of it) back to the
    // writer; acquire makes the new frame's bytes visible before we read them.
    const std::uint64_t old =
        ctl_->state.exchange(tb_state::pack(r, false, held), std::memory_order_acq_rel);
    const std::uint32_t next = tb_state::index(old);
    if (next >= kSlots || next == r) [[unlikely]] {
      ctl_->reader_rejected.store(ctl_->reader_rejected.load(std::memory_order_relaxed) + 1,
                                  std::memory_order_relaxed);
      return {{slots_[r], slot_bytes_}, held, false};
    }
    const std::uint64_t g = tb_state::generation(old);
    ctl_->reader_index.store(next, std::memory_order_relaxed);
    ctl_->front_generation.store(g, std::memory_order_relaxed);
    ctl_->consumed.store(ctl_->consumed.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
    return {{slots_[next], slot_bytes_}, g, true};
  }

  // Blocks until a frame the reader has not taken is waiting (kChanged) or
  // `timeout` passes (kTimedOut). Spins, yields, then sleeps on the futex
  // (docs/sync.md has the no-lost-wake-up argument). Does not take the frame:
  // call acquire_latest() next. A reader whose writer may die passes a
  // finite timeout and re-checks the writer's liveness.
  WaitStatus wait_for_new(std::chrono::nanoseconds timeout, SpinPolicy policy = {}) noexcept {
    using Clock = std::chrono::steady_clock;
    const bool forever = timeout == kWaitForever;
    const auto deadline = forever ? Clock::time_point::max() : Clock::now() + timeout;
    for (;;) {
      // SYNC(tb-wake): acquire pairs with publish()'s seq_cst fetch_add.
      const std::uint32_t seen = ctl_->publish_word.value.load(std::memory_order_acquire);
      if (has_new()) return WaitStatus::kChanged;
      // A publish whose exchange has_new() missed bumps the counter after
      // `seen` (its bump follows its exchange), so this cannot sleep through it.
      const auto left = forever ? kWaitForever : std::chrono::nanoseconds(deadline - Clock::now());
      if (wait(ctl_->publish_word, seen, left, policy) == WaitStatus::kTimedOut) {
        return has_new() ? WaitStatus::kChanged : WaitStatus::kTimedOut;
      }
      if (has_new()) return WaitStatus::kChanged;
      // The counter moved for a frame we already took (its bump lagged its
      // exchange, or 2^32 publishes wrapped it): wait again until the deadline.
      if (!forever && Clock::now() >= deadline) return WaitStatus::kTimedOut;
    }
  }

  // --- recovery after one side died (a process killed mid-call) ---

  // A side killed between its exchange and its index store leaves its index
  // stale. A stale index cannot be repaired from the dead side (a snapshot of
  // the live peer's index may itself be mid-update), but the survivor can do
  // it exactly: with the dead side gone only the survivor moves `state`, and
  // its own index is correct between its calls. So the reader calls
  // recover_dead_writer() (and the writer recover_dead_reader()) from its own
  // thread, between its own calls, once it knows the peer process is dead,
  // before a replacement attaches. The dead side's slot becomes the one
  // neither the back buffer nor the survivor owns. recover_dead_writer() also
  // lifts `published` to the newest generation written, so generations keep
  // increasing; a frame the dead reader had taken is not counted consumed.
  // kCorruptHeader if an index is out of range or the survivor's own is stale.
  Result<void> recover_dead_writer() noexcept {
    auto free = free_slot(ctl_->reader_index.load(std::memory_order_relaxed));
    if (!free.ok()) return free.error();
    ctl_->writer_index.store(free.value(), std::memory_order_relaxed);
    std::uint64_t newest = ctl_->published.load(std::memory_order_relaxed);
    for (const auto& g : ctl_->slot_generation) {
      newest = std::max(newest, g.load(std::memory_order_relaxed));
    }
    ctl_->published.store(newest, std::memory_order_relaxed);
    return {};
  }

  Result<void> recover_dead_reader() noexcept {
    auto free = free_slot(ctl_->writer_index.load(std::memory_order_relaxed));
    if (!free.ok()) return free.error();
    ctl_->reader_index.store(free.value(), std::memory_order_relaxed);
    ctl_->front_generation.store(
        ctl_->slot_generation[free.value()].load(std::memory_order_relaxed),
        std::memory_order_relaxed);
    return {};
  }

  // --- any thread; exact only while both sides are idle ---

  [[nodiscard]] std::uint64_t published() const noexcept {
    return ctl_->published.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t consumed() const noexcept {
    return ctl_->consumed.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t dropped() const noexcept {
    return ctl_->dropped.load(std::memory_order_relaxed);
  }
  // Slot indices from the state word that were out of range or already the
  // caller's (a corrupt peer). 0 in any correct run.
  [[nodiscard]] std::uint64_t rejected() const noexcept {
    return ctl_->writer_rejected.load(std::memory_order_relaxed) +
           ctl_->reader_rejected.load(std::memory_order_relaxed);
  }
  // Generation of the last frame written into slot i (0: never written;
  // i >= 3: 0). The reader may trust it for its own slot after acquire_latest().
  [[nodiscard]] std::uint64_t slot_generation(std::uint32_t i) const noexcept {
    return i < kSlots ? ctl_->slot_generation[i].load(std::memory_order_relaxed) : 0;
  }
  [[nodiscard]] Indices indices() const noexcept {
    return {ctl_->writer_index.load(std::memory_order_relaxed),
            tb_state::index(ctl_->state.load(std::memory_order_relaxed)),
            ctl_->reader_index.load(std::memory_order_relaxed)};
  }
  [[nodiscard]] std::size_t slot_bytes() const noexcept { return slot_bytes_; }
  [[nodiscard]] TripleBufferControl& control() const noexcept { return *ctl_; }

 private:
  TripleBuffer(TripleBufferControl* ctl, std::byte* slot_base) noexcept
      : ctl_(ctl), slot_bytes_(ctl->slot_bytes) {
    for (std::uint32_t i = 0; i < kSlots; ++i) slots_[i] = slot_base + ctl->slot_offsets[i];
  }

  // An index read from the side's own line, which only a corrupt peer could
  // have changed: clamp it so we never index out of bounds.
  [[nodiscard]] static std::uint32_t checked(std::uint32_t i) noexcept {
    return i < kSlots ? i : 0;
  }

  // The slot owned by neither the back buffer nor the survivor `own`.
  Result<std::uint32_t> free_slot(std::uint32_t own) const noexcept {
    // SYNC(tb-state): acquire pairs with the dead side's last exchange.
    const std::uint32_t back = tb_state::index(ctl_->state.load(std::memory_order_acquire));
    if (back >= kSlots || own >= kSlots || back == own) {
      return make_error(Errc::kCorruptHeader, "cannot recover: back index " + std::to_string(back) +
                                                  ", survivor's index " + std::to_string(own));
    }
    return std::uint32_t{3 - back - own};
  }

  static Result<void> validate_control(const std::byte* arena_base, std::size_t arena_bytes,
                                       std::uint64_t control_offset) noexcept;
  static Result<void> validate_layout(const std::byte* arena_base, std::size_t arena_bytes,
                                      std::uint64_t control_offset, SlotMemory slots,
                                      const std::array<std::uint64_t, 3>& slot_offsets,
                                      std::uint64_t slot_bytes, Errc bad_size) noexcept;

  TripleBufferControl* ctl_;
  std::size_t slot_bytes_;
  std::array<std::byte*, 3> slots_{};
};

inline Result<void> TripleBuffer::validate_control(const std::byte* arena_base,
                                                   std::size_t arena_bytes,
                                                   std::uint64_t control_offset) noexcept {
  if (arena_base == nullptr) return make_error(Errc::kInvalidArgument, "arena base is null");
  if (reinterpret_cast<std::uintptr_t>(arena_base) % kCacheLine != 0) {
    return make_error(Errc::kMisaligned, "arena base is not 64-byte aligned");
  }
  if (control_offset % kCacheLine != 0) {
    return make_error(Errc::kMisaligned, "control block offset " + std::to_string(control_offset) +
                                             " is not 64-byte aligned");
  }
  if (control_offset > arena_bytes || arena_bytes - control_offset < kControlBytes) {
    return make_error(Errc::kTooSmall, "control block at " + std::to_string(control_offset) +
                                           " needs " + std::to_string(kControlBytes) +
                                           " bytes; the arena has " + std::to_string(arena_bytes));
  }
  return {};
}

inline Result<void> TripleBuffer::validate_layout(const std::byte* arena_base,
                                                  std::size_t arena_bytes,
                                                  std::uint64_t control_offset, SlotMemory slots,
                                                  const std::array<std::uint64_t, 3>& slot_offsets,
                                                  std::uint64_t slot_bytes,
                                                  Errc bad_size) noexcept {
  if (auto ok = validate_control(arena_base, arena_bytes, control_offset); !ok) return ok;
  if (slots.base == nullptr) return make_error(Errc::kInvalidArgument, "slot memory is null");
  if (reinterpret_cast<std::uintptr_t>(slots.base) % kCacheLine != 0) {
    return make_error(Errc::kMisaligned, "slot memory is not 64-byte aligned");
  }
  const bool shared_memory = slots.base == arena_base;
  const std::size_t memory_bytes = slots.bytes;
  if (slot_bytes == 0 || slot_bytes > memory_bytes) {
    return make_error(bad_size, "slot size " + std::to_string(slot_bytes) +
                                    " is zero or larger than its memory (" +
                                    std::to_string(memory_bytes) + " bytes)");
  }
  for (std::uint32_t i = 0; i < kSlots; ++i) {
    const std::uint64_t off = slot_offsets[i];
    if (off > memory_bytes || memory_bytes - off < slot_bytes) {
      return make_error(Errc::kOutOfRange,
                        "slot " + std::to_string(i) + " [" + std::to_string(off) + ", +" +
                            std::to_string(slot_bytes) + ") ends past its memory's " +
                            std::to_string(memory_bytes) + " bytes");
    }
    if (off % kCacheLine != 0) {
      return make_error(Errc::kMisaligned, "slot " + std::to_string(i) + " offset " +
                                               std::to_string(off) + " is not 64-byte aligned");
    }
    // Both ranges are known to lie inside the arena, so no sum overflows.
    if (shared_memory && off < control_offset + kControlBytes && control_offset < off + slot_bytes) {
      return make_error(Errc::kOverlap,
                        "slot " + std::to_string(i) + " overlaps the control block");
    }
    for (std::uint32_t j = 0; j < i; ++j) {
      const std::uint64_t other = slot_offsets[j];
      if (off < other + slot_bytes && other < off + slot_bytes) {
        return make_error(Errc::kOverlap,
                          "slots " + std::to_string(j) + " and " + std::to_string(i) + " overlap");
      }
    }
  }
  return {};
}

inline Result<TripleBuffer> TripleBuffer::create(std::byte* arena_base, std::size_t arena_bytes,
                                                 std::uint64_t control_offset, SlotMemory slots,
                                                 std::array<std::uint64_t, 3> slot_offsets,
                                                 std::uint64_t slot_bytes) noexcept {
  if (auto ok = validate_layout(arena_base, arena_bytes, control_offset, slots, slot_offsets, slot_bytes,
                                Errc::kInvalidArgument);
      !ok) {
    return ok.error();
  }
  auto* ctl = new (arena_base + control_offset) TripleBufferControl();  // zeroed
  ctl->version = kVersion;
  ctl->slot_bytes = slot_bytes;
  for (std::uint32_t i = 0; i < kSlots; ++i) ctl->slot_offsets[i] = slot_offsets[i];
  ctl->control_offset = control_offset;
  // Writer fills 0, slot 1 is the (clean) back buffer, the reader holds 2;
  // every counter and generation starts at 0 from the value-initialisation.
  ctl->state.store(tb_state::pack(1, false, 0), std::memory_order_relaxed);
  ctl->reader_index.store(2, std::memory_order_relaxed);
  // SYNC(tb-init): publishes every field above to attach()'s acquire load.
  ctl->magic.store(kMagic, std::memory_order_release);
  return TripleBuffer(ctl, slots.base);
}

inline Result<TripleBuffer> TripleBuffer::attach(std::byte* arena_base, std::size_t arena_bytes,
                                                 std::uint64_t control_offset,
                                                 SlotMemory slot_memory) noexcept {
  if (auto ok = validate_control(arena_base, arena_bytes, control_offset); !ok) {
    return ok.error();
  }
  auto* ctl = std::launder(reinterpret_cast<TripleBufferControl*>(arena_base + control_offset));
  // SYNC(tb-init): acquire pairs with create()'s release store of magic.
  const std::uint32_t magic = ctl->magic.load(std::memory_order_acquire);
  if (magic != kMagic) {
    return make_error(Errc::kBadMagic, "triple buffer magic is " + std::to_string(magic) +
                                           ", expected " + std::to_string(kMagic));
  }
  if (ctl->version != kVersion) {
    return make_error(Errc::kBadVersion, "triple buffer layout version " +
                                             std::to_string(ctl->version) + ", this build speaks " +
                                             std::to_string(kVersion));
  }
  if (ctl->control_offset != control_offset) {
    return make_error(Errc::kCorruptHeader,
                      "control block records offset " + std::to_string(ctl->control_offset) +
                          " but was attached at " + std::to_string(control_offset));
  }
  const std::array<std::uint64_t, 3> slots{ctl->slot_offsets[0], ctl->slot_offsets[1],
                                           ctl->slot_offsets[2]};
  if (auto ok = validate_layout(arena_base, arena_bytes, control_offset, slot_memory, slots, ctl->slot_bytes,
                                Errc::kCorruptHeader);
      !ok) {
    return ok.error();
  }
  // Each index alone must be in range. Whether the three are distinct is not
  // checked: while the writer publishes, its index and the back index are
  // briefly equal between its exchange and its index store.
  const std::uint32_t w = ctl->writer_index.load(std::memory_order_relaxed);
  const std::uint32_t b = tb_state::index(ctl->state.load(std::memory_order_relaxed));
  const std::uint32_t r = ctl->reader_index.load(std::memory_order_relaxed);
  if (w >= kSlots || b >= kSlots || r >= kSlots) {
    return make_error(Errc::kCorruptHeader, "slot index out of range (writer " + std::to_string(w) +
                                                ", back " + std::to_string(b) + ", reader " +
                                                std::to_string(r) + ")");
  }
  return TripleBuffer(ctl, slot_memory.base);
}

}  // namespace triptych
