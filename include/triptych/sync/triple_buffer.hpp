// SPDX-License-Identifier: Apache-2.0
// TripleBuffer: one writer hands whole frames to one reader through three
// slots in the arena, swapping slot ownership with a single atomic exchange
// per side (HadrienG2/triple-buffer's protocol plus a generation). publish()
// and acquire_latest() are wait-free and never block each other; the reader
// always gets the newest complete frame, and frames it did not read in time
// are counted as dropped. wait_for_new() is the only blocking call (futex).
// Progress: publish() is wait-free (at most two CAS attempts: the reader can
// change the state word at most once per publish); acquire_latest() is
// lock-free (its CAS fails only when the writer published meanwhile).
// Exactly one writer thread calls write_slot()/publish(), exactly one reader
// thread calls acquire_latest()/has_new()/wait_for_new(), possibly in another
// process; any thread may read the counters. After a peer process dies, the
// survivor's role thread calls recover_dead_writer()/recover_dead_reader()
// between its own calls, with a CertifiedDeath (sync/peer.hpp); a revived
// "dead" side fails its next call. Design: docs/sync.md
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
#include "triptych/sync/peer.hpp"

namespace triptych {

// The state word both sides swap: bits 0-1 back slot index, bit 2 dirty (the
// back slot holds a frame the reader has not taken), bits 3-47 the generation
// of the frame in the back slot (2^45 frames: 1,100 years at 1 kHz), bits
// 48-55 the writer's epoch tag and bits 56-63 the reader's (the low 8 bits of
// writer_epoch / reader_epoch). Each side's swap is a CAS that fails when its
// own tag is not the one its view attached with: that is how a recovery fences
// a side it declared dead (docs/sync.md, "Recovery").
namespace tb_state {
inline constexpr std::uint64_t kIndexMask = 0b011;
inline constexpr std::uint64_t kDirtyBit = 0b100;
inline constexpr unsigned kGenerationShift = 3;
inline constexpr unsigned kGenerationBits = 45;
inline constexpr std::uint64_t kGenerationMax = (std::uint64_t{1} << kGenerationBits) - 1;
inline constexpr unsigned kWriterTagShift = 48;
inline constexpr unsigned kReaderTagShift = 56;
inline constexpr std::uint64_t kTagMask = 0xff;
inline constexpr std::uint64_t kTagBits =
    (kTagMask << kWriterTagShift) | (kTagMask << kReaderTagShift);

// Tags are 0 here: callers that must keep the tags OR in tags(old).
[[nodiscard]] constexpr std::uint64_t pack(std::uint32_t index, bool dirty,
                                           std::uint64_t generation) noexcept {
  return ((generation & kGenerationMax) << kGenerationShift) | (dirty ? kDirtyBit : 0) |
         (index & kIndexMask);
}
[[nodiscard]] constexpr std::uint64_t tags(std::uint64_t s) noexcept { return s & kTagBits; }
[[nodiscard]] constexpr std::uint64_t writer_tag(std::uint64_t s) noexcept {
  return (s >> kWriterTagShift) & kTagMask;
}
[[nodiscard]] constexpr std::uint64_t reader_tag(std::uint64_t s) noexcept {
  return (s >> kReaderTagShift) & kTagMask;
}
[[nodiscard]] constexpr std::uint64_t tag_of(std::uint64_t epoch) noexcept {
  return epoch & kTagMask;
}
[[nodiscard]] constexpr std::uint32_t index(std::uint64_t s) noexcept {
  return static_cast<std::uint32_t>(s & kIndexMask);
}
[[nodiscard]] constexpr bool dirty(std::uint64_t s) noexcept {
  return (s & kDirtyBit) != 0;
}
[[nodiscard]] constexpr std::uint64_t generation(std::uint64_t s) noexcept {
  return (s >> kGenerationShift) & kGenerationMax;
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
  // Owner epochs, bumped (CAS) only by a recovery that takes the role over;
  // their low 8 bits are mirrored into the state word's tags. Rarely written,
  // never read on a hot path, so they may share the read-mostly header line.
  std::atomic<std::uint64_t> writer_epoch;
  std::atomic<std::uint64_t> reader_epoch;

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
  std::atomic<std::uint64_t> writer_fenced;    // publishes refused: the role was taken over

  // Line 3: written by the reader only.
  alignas(kCacheLine) std::atomic<std::uint64_t> consumed;  // frames taken
  std::atomic<std::uint64_t> front_generation;              // generation the reader holds
  std::atomic<std::uint32_t> reader_index;                  // the slot the reader holds
  std::uint32_t reserved3;
  std::atomic<std::uint64_t> reader_rejected;
  std::atomic<std::uint64_t> reader_fenced;  // acquires refused: the role was taken over
  std::uint8_t reserved4[kCacheLine - 5 * sizeof(std::uint64_t)];

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
static_assert(offsetof(TripleBufferControl, writer_epoch) == 48 &&
                  offsetof(TripleBufferControl, reader_epoch) == 56,
              "PROTOCOL.md: the owner epochs take the header's former reserved bytes");
static_assert(offsetof(TripleBufferControl, writer_fenced) == 2 * kCacheLine + 56,
              "all writer-owned fields must fit on the writer's line");
static_assert(offsetof(TripleBufferControl, reader_fenced) == 3 * kCacheLine + 32,
              "PROTOCOL.md: reader_fenced follows reader_rejected");
static_assert(offsetof(TripleBufferControl, consumed) == 3 * kCacheLine,
              "reader-owned counters must be a cache line apart from the writer's");
static_assert(sizeof(std::size_t) == 8, "slot sizes and offsets are 64-bit");

class TripleBuffer {
 public:
  static constexpr std::size_t kControlBytes = sizeof(TripleBufferControl);
  static constexpr std::uint32_t kMagic = 0x46554254;  // "TBUF" little-endian
  static constexpr std::uint32_t kVersion = 2;         // 2: owner epochs and state tags
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
  // Every index is below 3 even if the control block is corrupt.
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
  // Every shared field is read exactly once into a snapshot, the snapshot is
  // validated, and the view is built from it (docs/sync.md, "Attach"): a peer
  // rewriting the block meanwhile can make attach refuse, never accept a view
  // it did not validate. The view takes both roles' current epochs: it may
  // act as writer and/or reader until a recovery takes that role over. A
  // corrupt or hostile block yields a typed Error, never a crash.
  static Result<TripleBuffer> attach(std::byte* arena_base, std::size_t arena_bytes,
                                     std::uint64_t control_offset) noexcept {
    return attach(arena_base, arena_bytes, control_offset, SlotMemory{arena_base, arena_bytes});
  }
  static Result<TripleBuffer> attach(std::byte* arena_base, std::size_t arena_bytes,
                                     std::uint64_t control_offset, SlotMemory slots) noexcept;

  // --- writer side (one thread) ---

  // The slot the writer fills next. Stable until publish(). Wait-free. A
  // corrupt (>= 3) writer index is read as slot 0 and publish() refuses it.
  [[nodiscard]] std::span<std::byte> write_slot() const noexcept {
    const std::uint32_t w = ctl_->writer_index.load(std::memory_order_relaxed);
    return {slots_[checked(w)], slot_bytes_};
  }

  // Hands the write slot to the reader as the newest frame and takes the old
  // back slot to fill next. Returns the generation published (1, 2, ...).
  // If the previous frame was never read it is dropped and counted. Returns 0
  // and publishes nothing if this view's writer role was taken over by
  // recover_dead_writer() (counted in fenced()) or the writer index is
  // corrupt (counted in rejected()). Wait-free: one load, at most two CAS
  // (the reader moves the state word at most once per publish); the wake
  // costs a syscall only if the reader sleeps.
  std::uint64_t publish() noexcept {
    const std::uint32_t w = ctl_->writer_index.load(std::memory_order_relaxed);
    if (w >= kSlots) [[unlikely]] {
      count(ctl_->writer_rejected);
      return 0;
    }
    const std::uint64_t g = ctl_->published.load(std::memory_order_relaxed) + 1;
    // The CAS below re-checks the tag atomically; this load is the one the
    // hot path adds over a plain exchange (docs/sync.md, "Recovery").
    std::uint64_t old = ctl_->state.load(std::memory_order_relaxed);
    if (tb_state::writer_tag(old) != tb_state::tag_of(writer_epoch_)) [[unlikely]] {
      count(ctl_->writer_fenced);
      return 0;
    }
    ctl_->slot_generation[w].store(g, std::memory_order_relaxed);  // published below
    // SYNC(tb-state): release publishes slot w's bytes and its generation to
    // the reader; acquire takes ownership of the old back slot only after the
    // reader's last reads of it (the reader released it with its CAS). The
    // CAS keeps the reader's tag as it found it and fails if a recovery
    // retagged the word since `old` was read: SYNC(tb-fence).
    while (!ctl_->state.compare_exchange_strong(old, tb_state::pack(w, true, g) | tb_state::tags(old),
                                                std::memory_order_acq_rel,
                                                std::memory_order_relaxed)) {
      if (tb_state::writer_tag(old) != tb_state::tag_of(writer_epoch_)) [[unlikely]] {
        count(ctl_->writer_fenced);
        return 0;
      }
    }
    std::uint32_t next = tb_state::index(old);
    if (next >= kSlots || next == w) [[unlikely]] {
      // Only a corrupt peer can get here. Keep filling w rather than index
      // out of bounds or share the back slot; the count makes it visible.
      count(ctl_->writer_rejected);
      next = w;
    }
    ctl_->writer_index.store(next, std::memory_order_relaxed);
    if (tb_state::dirty(old)) {
      ctl_->dropped.store(ctl_->dropped.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
    }
    ctl_->published.store(g, std::memory_order_relaxed);
    // SYNC(tb-wake): seq_cst RMW after the CAS; wait_for_new's acquire
    // load of the counter, if it sees this bump, also sees the dirty state.
    (void)fetch_add_and_wake(ctl_->publish_word, 1, INT_MAX);
    return g;
  }

  // --- reader side (one thread) ---

  // True if a frame newer than the reader's is waiting. Wait-free, no write.
  [[nodiscard]] bool has_new() const noexcept {
    // SYNC(tb-state): acquire pairs with publish()'s CAS.
    return tb_state::dirty(ctl_->state.load(std::memory_order_acquire));
  }

  // Takes the newest published frame if there is one the reader has not
  // seen, giving its previous slot back; otherwise returns the slot it
  // already holds with is_new == false. The span stays valid and unchanged
  // until the next acquire_latest(). Returns the held slot with is_new ==
  // false and takes nothing if this view's reader role was taken over by
  // recover_dead_reader() (counted in fenced()) or the state names a slot
  // out of range or the reader's own (counted in rejected()). Lock-free: the
  // CAS is retried only when the writer published between load and CAS.
  Frame acquire_latest() noexcept {
    std::uint32_t r = ctl_->reader_index.load(std::memory_order_relaxed);
    if (r >= kSlots) [[unlikely]] {
      count(ctl_->reader_rejected);
      r = 0;  // memory-safe; the count reports the corruption
    }
    const std::uint64_t held = ctl_->front_generation.load(std::memory_order_relaxed);
    const Frame unchanged{{slots_[r], slot_bytes_}, held, false};
    // SYNC(tb-state): acquire pairs with publish()'s CAS.
    std::uint64_t old = ctl_->state.load(std::memory_order_acquire);
    for (;;) {
      if (tb_state::reader_tag(old) != tb_state::tag_of(reader_epoch_)) [[unlikely]] {
        count(ctl_->reader_fenced);
        return unchanged;
      }
      if (!tb_state::dirty(old)) return unchanged;
      const std::uint32_t next = tb_state::index(old);
      if (next >= kSlots || next == r) [[unlikely]] {
        count(ctl_->reader_rejected);
        return unchanged;
      }
      // SYNC(tb-state): release hands slot r (and our reads of it) back to
      // the writer; acquire makes the new frame's bytes visible before we
      // read them. Keeps the writer's tag as found; fails if a recovery
      // retagged the word meanwhile: SYNC(tb-fence).
      if (ctl_->state.compare_exchange_strong(old, tb_state::pack(r, false, held) | tb_state::tags(old),
                                              std::memory_order_acq_rel,
                                              std::memory_order_acquire)) {
        break;
      }
    }
    const std::uint32_t next = tb_state::index(old);
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
      // A publish whose CAS has_new() missed bumps the counter after `seen`
      // (its bump follows its CAS), so this cannot sleep through it.
      const auto left = forever ? kWaitForever : std::chrono::nanoseconds(deadline - Clock::now());
      if (wait(ctl_->publish_word, seen, left, policy) == WaitStatus::kTimedOut) {
        return has_new() ? WaitStatus::kChanged : WaitStatus::kTimedOut;
      }
      if (has_new()) return WaitStatus::kChanged;
      // The counter moved for a frame we already took (its bump lagged its
      // CAS, or 2^32 publishes wrapped it): wait again until the deadline.
      if (!forever && Clock::now() >= deadline) return WaitStatus::kTimedOut;
    }
  }

  // --- recovery after one side died (a process killed mid-call) ---

  // The reader's thread, between its own calls, once the writer's process is
  // certified dead (`death`: sync/peer.hpp; a missed heartbeat is not
  // enough), before a replacement writer attaches. In order:
  //  1. takes the writer role over: writer_epoch += 1 with a CAS (kStale if
  //     another recovery moved it first);
  //  2. fences the old writer: one CAS loop on the state word writes the new
  //     epoch's tag (SYNC(tb-fence)). Every publish() of a view attached
  //     before step 1 now fails its CAS, so a writer that was only presumed
  //     dead publishes nothing more, and the back index read here is final;
  //  3. repairs the writer index: the slot neither the back buffer nor the
  //     reader owns (a writer killed between its CAS and its index store left
  //     it stale; a live one stores this same value), and lifts `published`
  //     to the newest generation written, so generations keep increasing.
  // What it cannot stop: a presumed-dead writer still filling the slot it
  // held scribbles the slot step 3 gives the replacement; hence the death
  // certificate. Views attached after this call returns own the role.
  // kCorruptHeader if an index is out of range or the survivor's own is stale.
  Result<void> recover_dead_writer(const CertifiedDeath& death) noexcept {
    (void)death;  // its existence is the proof; the pid is for the caller's logs
    auto epoch = take_over(ctl_->writer_epoch);
    if (!epoch) return epoch.error();
    const std::uint64_t back = retag(tb_state::kWriterTagShift, epoch.value());
    auto free = free_slot(back, ctl_->reader_index.load(std::memory_order_relaxed));
    if (!free.ok()) return free.error();
    ctl_->writer_index.store(free.value(), std::memory_order_relaxed);
    std::uint64_t newest = ctl_->published.load(std::memory_order_relaxed);
    for (const auto& g : ctl_->slot_generation) {
      newest = std::max(newest, g.load(std::memory_order_relaxed));
    }
    ctl_->published.store(newest, std::memory_order_relaxed);
    return {};
  }

  // The writer's thread, between its own calls, once the reader's process is
  // certified dead. The mirror of recover_dead_writer(): takes the reader
  // role over (reader_epoch CAS), fences the old reader (its next
  // acquire_latest() takes nothing), then gives the replacement the slot
  // neither the back buffer nor the writer owns, with that slot's
  // generation as the one it holds. A frame the dead reader had taken is not
  // counted consumed.
  Result<void> recover_dead_reader(const CertifiedDeath& death) noexcept {
    (void)death;
    auto epoch = take_over(ctl_->reader_epoch);
    if (!epoch) return epoch.error();
    const std::uint64_t back = retag(tb_state::kReaderTagShift, epoch.value());
    auto free = free_slot(back, ctl_->writer_index.load(std::memory_order_relaxed));
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
  // Slot indices read back from the block that were out of range or already
  // the caller's (a corrupt peer). 0 in any correct run.
  [[nodiscard]] std::uint64_t rejected() const noexcept {
    return ctl_->writer_rejected.load(std::memory_order_relaxed) +
           ctl_->reader_rejected.load(std::memory_order_relaxed);
  }
  // Calls refused because a recovery took the caller's role over: a side
  // declared dead that was not. 0 unless a recovery ran against a live side.
  [[nodiscard]] std::uint64_t fenced() const noexcept {
    return ctl_->writer_fenced.load(std::memory_order_relaxed) +
           ctl_->reader_fenced.load(std::memory_order_relaxed);
  }
  // Generation of the last frame written into slot i (0: never written;
  // i >= 3: 0). The reader may trust it for its own slot after acquire_latest().
  [[nodiscard]] std::uint64_t slot_generation(std::uint32_t i) const noexcept {
    return i < kSlots ? ctl_->slot_generation[i].load(std::memory_order_relaxed) : 0;
  }
  // Each index is checked where it is read: a corrupt (>= 3) one is counted
  // in rejected() and reported as 0, so callers may use these as array
  // indices. Exact only while both sides are idle.
  [[nodiscard]] Indices indices() const noexcept {
    return {checked_counted(ctl_->writer_index.load(std::memory_order_relaxed),
                            ctl_->writer_rejected),
            checked_counted(tb_state::index(ctl_->state.load(std::memory_order_relaxed)),
                            ctl_->writer_rejected),
            checked_counted(ctl_->reader_index.load(std::memory_order_relaxed),
                            ctl_->reader_rejected)};
  }
  [[nodiscard]] std::size_t slot_bytes() const noexcept { return slot_bytes_; }
  // The bytes of slot i as this view addresses them (i >= 3: slot 0). For
  // tests and verifiers: an attached view must keep all three inside the
  // arena it was given. Any thread; the bytes belong to whoever owns the slot.
  [[nodiscard]] std::span<const std::byte> slot(std::uint32_t i) const noexcept {
    return {slots_[checked(i)], slot_bytes_};
  }
  [[nodiscard]] TripleBufferControl& control() const noexcept { return *ctl_; }

 private:
  // Everything attach() reads from the block, each field once.
  struct Snapshot {
    std::uint32_t version;
    std::uint64_t control_offset;
    std::uint64_t slot_bytes;
    std::array<std::uint64_t, 3> slot_offsets;
    std::uint64_t writer_epoch;
    std::uint64_t reader_epoch;
    std::uint32_t writer_index;
    std::uint64_t state;
    std::uint32_t reader_index;
  };

  // Built only from validated values: never re-reads the block.
  TripleBuffer(TripleBufferControl* ctl, std::byte* slot_base,
               const std::array<std::uint64_t, 3>& slot_offsets, std::uint64_t slot_bytes,
               std::uint64_t writer_epoch, std::uint64_t reader_epoch) noexcept
      : ctl_(ctl),
        slot_bytes_(static_cast<std::size_t>(slot_bytes)),
        writer_epoch_(writer_epoch),
        reader_epoch_(reader_epoch) {
    for (std::uint32_t i = 0; i < kSlots; ++i) slots_[i] = slot_base + slot_offsets[i];
  }

  // A plain header field, read once as a relaxed atomic load: a hostile peer
  // may be rewriting it, and the value read is the one validated and used.
  // The acquire load of magic before it orders it after create() (SYNC(tb-init)).
  template <class U>
  [[nodiscard]] static U read_once(U& field) noexcept {
    static_assert(std::atomic_ref<U>::is_always_lock_free, "header fields are lock-free words");
    return std::atomic_ref<U>(field).load(std::memory_order_relaxed);
  }

  // An index read back from the block: clamp it so we never index out of
  // bounds (callers that can refuse, count; see indices()).
  [[nodiscard]] static std::uint32_t checked(std::uint32_t i) noexcept {
    return i < kSlots ? i : 0;
  }
  [[nodiscard]] static std::uint32_t checked_counted(std::uint32_t i,
                                                     std::atomic<std::uint64_t>& rejected) noexcept {
    if (i < kSlots) [[likely]] return i;
    rejected.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  // A counter on the caller's own line, off the hot path.
  static void count(std::atomic<std::uint64_t>& c) noexcept {
    c.fetch_add(1, std::memory_order_relaxed);
  }

  // Step 1 of a recovery: one CAS moves the role's epoch on. Two survivors
  // racing to recover the same role: exactly one wins, the other gets kStale.
  static Result<std::uint64_t> take_over(std::atomic<std::uint64_t>& epoch) noexcept {
    std::uint64_t e = epoch.load(std::memory_order_relaxed);
    // SYNC(tb-epoch): release publishes the take-over to attach()'s acquire
    // load of the epoch; the fence itself is the state CAS of step 2.
    if (!epoch.compare_exchange_strong(e, e + 1, std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
      return make_error(Errc::kStale, "cannot recover: another recovery took the role (epoch " +
                                          std::to_string(e) + ")");
    }
    return e + 1;
  }

  // Step 2: writes the new epoch's tag into the state word with a CAS loop
  // (the live or dead peer may CAS it meanwhile), and returns the back index
  // the word holds at that moment. Every later CAS by a view holding the old
  // tag fails, so that index cannot be moved by the fenced side.
  std::uint64_t retag(unsigned shift, std::uint64_t epoch) noexcept {
    // SYNC(tb-state): acquire pairs with the peer's last CAS (its slot's
    // bytes and index are ours to reason about).
    std::uint64_t old = ctl_->state.load(std::memory_order_acquire);
    for (;;) {
      const std::uint64_t fenced =
          (old & ~(tb_state::kTagMask << shift)) | (tb_state::tag_of(epoch) << shift);
      // SYNC(tb-fence): the RMW that every stale CAS loses to; acq_rel so a
      // side whose CAS reads this value afterwards sees the new epoch.
      if (ctl_->state.compare_exchange_strong(old, fenced, std::memory_order_acq_rel,
                                              std::memory_order_acquire)) {
        return tb_state::index(fenced);
      }
    }
  }

  // Step 3: the slot owned by neither the back buffer nor the survivor `own`.
  static Result<std::uint32_t> free_slot(std::uint64_t back, std::uint32_t own) noexcept {
    if (back >= kSlots || own >= kSlots || back == own) {
      return make_error(Errc::kCorruptHeader, "cannot recover: back index " + std::to_string(back) +
                                                  ", survivor's index " + std::to_string(own));
    }
    return static_cast<std::uint32_t>(3 - back - own);
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
  // The role epochs this view attached with. Read by the role's own thread
  // only; a recovery never changes them (it changes the block), so a view
  // whose role was taken over stays fenced: attach a new view instead.
  std::uint64_t writer_epoch_;
  std::uint64_t reader_epoch_;
};

}  // namespace triptych
