// SPDX-License-Identifier: Apache-2.0
// MpmcRing<T>: a bounded multi-producer multi-consumer ring inside
// caller-provided (arena) memory, after Dmitry Vyukov's "bounded MPMC queue"
// (1024cores.net): every cell carries a sequence number that says whose turn
// it is, and a producer/consumer claims a position with one CAS. A 192-byte
// header, then `capacity` cells of one or more cache lines each; offsets only,
// so another process can attach. Progress, honestly: try_* never block and
// never wait for a peer (a failed CAS means another thread succeeded), but the
// ring as a whole is NOT lock-free in the strict sense: a producer preempted
// between its claim and its sequence store hides that cell and every later
// one from consumers (they report "empty") until it resumes, and a stalled
// consumer likewise holds up producers one lap later. push / pop are blocking
// (bounded spin, bounded yield, futex sleep with a timeout). Any number of
// threads in any number of processes may call any op; create/attach from any
// thread. Differences from Vyukov's queue are listed in docs/rings.md.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <type_traits>

#include "triptych/core/config.hpp"
#include "triptych/core/result.hpp"
#include "triptych/ring/ring_common.hpp"
#include "triptych/sync/futex.hpp"

namespace triptych {

// The in-arena header. Line 0 is written once by create(); line 1 by producers
// (plus `not_empty.waiters` by sleeping consumers); line 2 by consumers (plus
// `not_full.waiters` by sleeping producers).
struct alignas(kCacheLine) MpmcRingHeader {
  // --- line 0: identity, immutable after create() ---
  std::atomic<std::uint64_t> magic;  // release-stored last by create()
  std::uint32_t version;
  std::uint32_t capacity;      // cells; a power of two in [2, 2^31]
  std::uint32_t elem_size;     // sizeof(T) of the creator
  std::uint32_t elem_align;    // alignof(T) of the creator
  std::uint32_t cell_stride;   // bytes per cell, a multiple of 64
  std::uint32_t data_offset;   // element offset inside a cell (after its sequence)
  std::uint64_t cells_offset;  // from the header start; sizeof(MpmcRingHeader)
  std::uint64_t total_bytes;   // required_bytes(capacity)
  std::byte reserved0[16];

  // --- line 1: producers ---
  alignas(kCacheLine) std::atomic<std::uint64_t> enqueue_pos;  // next position to claim
  WaitWord not_empty;  // bumped by producers when a consumer sleeps
  std::byte reserved1[48];

  // --- line 2: consumers ---
  alignas(kCacheLine) std::atomic<std::uint64_t> dequeue_pos;  // next position to claim
  WaitWord not_full;  // bumped by consumers when a producer sleeps
  std::byte reserved2[48];

  MpmcRingHeader() noexcept = default;
  MpmcRingHeader(const MpmcRingHeader&) = delete;
  MpmcRingHeader& operator=(const MpmcRingHeader&) = delete;
};

static_assert(std::is_standard_layout_v<MpmcRingHeader>,
              "the header is read by other processes: it must have a C layout");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "positions and cell sequences are shared across processes");
static_assert(sizeof(MpmcRingHeader) == 3 * kCacheLine,
              "docs/rings.md fixes the header at three cache lines");
static_assert(sizeof(MpmcRingHeader) % kCacheLine == 0,
              "cells start on a cache line so they never share one with the positions");
static_assert(offsetof(MpmcRingHeader, magic) == 0, "magic comes first so any reader can check it");
static_assert(offsetof(MpmcRingHeader, enqueue_pos) == 1 * kCacheLine,
              "docs/rings.md: enqueue_pos at 64");
static_assert(offsetof(MpmcRingHeader, dequeue_pos) == 2 * kCacheLine,
              "docs/rings.md: dequeue_pos at 128");
static_assert(offsetof(MpmcRingHeader, dequeue_pos) - offsetof(MpmcRingHeader, enqueue_pos) >=
                  kCacheLine,
              "enqueue and dequeue positions must be a cache line apart");
static_assert(offsetof(MpmcRingHeader, not_empty) / kCacheLine ==
                  offsetof(MpmcRingHeader, enqueue_pos) / kCacheLine,
              "not_empty is bumped by producers: it lives on their line");
static_assert(offsetof(MpmcRingHeader, not_full) / kCacheLine ==
                  offsetof(MpmcRingHeader, dequeue_pos) / kCacheLine,
              "not_full is bumped by consumers: it lives on their line");

template <RingElement T>
class MpmcRing {
 public:
  // "TRPMPMC1" read as a little-endian 64-bit integer.
  static constexpr std::uint64_t kMagic = 0x31434D504D505254ull;

  // Each cell: the 64-bit sequence, the element at the next multiple of
  // alignof(T), padded to whole cache lines so neighbouring cells, which
  // different threads write at the same time, never share a line.
  static constexpr std::uint32_t kDataOffset =
      static_cast<std::uint32_t>(align_up(sizeof(std::uint64_t), alignof(T)));
  static constexpr std::uint64_t kCellStride = align_up(kDataOffset + sizeof(T), kCacheLine);
  static_assert(kCellStride <= UINT32_MAX, "the header records the cell stride in 32 bits");

  // Bytes needed for `capacity` cells (a multiple of 64). 0 if `capacity` is
  // not a power of two in [2, 2^31] or the size overflows.
  [[nodiscard]] static constexpr std::size_t required_bytes(std::uint32_t capacity) noexcept {
    if (!ring_detail::valid_capacity(capacity)) return 0;
    std::uint64_t cells = 0;
    if (__builtin_mul_overflow(std::uint64_t{capacity}, kCellStride, &cells)) return 0;
    if (cells > SIZE_MAX - sizeof(MpmcRingHeader)) return 0;
    return static_cast<std::size_t>(sizeof(MpmcRingHeader) + cells);
  }

  // What attach() expects of the header (ring_detail::validate_ring_snapshot).
  static constexpr ring_detail::RingShape kShape{
      "mpmc ring", static_cast<std::uint32_t>(sizeof(T)), static_cast<std::uint32_t>(alignof(T)),
      static_cast<std::uint32_t>(kCellStride), kDataOffset, sizeof(MpmcRingHeader),
      &required_bytes};

  // Builds an empty ring in place over mem[0, bytes). Nobody may use the bytes
  // until it returns. Fails on null or misaligned memory, a bad capacity, or
  // too few bytes; O(capacity) (it numbers every cell). No allocation except
  // an error's message.
  [[nodiscard]] static Result<MpmcRing> create(std::byte* mem, std::size_t bytes,
                                               std::uint32_t capacity) noexcept {
    if (mem == nullptr) return make_error(Errc::kInvalidArgument, "mpmc ring: null memory");
    if (reinterpret_cast<std::uintptr_t>(mem) % kCacheLine != 0)
      return make_error(Errc::kMisaligned, "mpmc ring: memory is not 64-byte aligned");
    const std::size_t need = required_bytes(capacity);
    if (need == 0)
      return make_error(Errc::kInvalidArgument, "mpmc ring: capacity " + std::to_string(capacity) +
                                                    " is not a power of two in [2, 2^31]");
    if (bytes < need)
      return make_error(Errc::kTooSmall, "mpmc ring: capacity " + std::to_string(capacity) +
                                             " needs " + std::to_string(need) + " bytes, got " +
                                             std::to_string(bytes));
    auto* h = ::new (static_cast<void*>(mem)) MpmcRingHeader();
    h->magic.store(0, std::memory_order_relaxed);
    h->version = kRingLayoutVersion;
    h->capacity = capacity;
    h->elem_size = static_cast<std::uint32_t>(sizeof(T));
    h->elem_align = static_cast<std::uint32_t>(alignof(T));
    h->cell_stride = static_cast<std::uint32_t>(kCellStride);
    h->data_offset = kDataOffset;
    h->cells_offset = sizeof(MpmcRingHeader);
    h->total_bytes = need;
    h->enqueue_pos.store(0, std::memory_order_relaxed);
    h->dequeue_pos.store(0, std::memory_order_relaxed);
    std::byte* cells = mem + sizeof(MpmcRingHeader);
    for (std::uint64_t i = 0; i < capacity; ++i) {
      // Cell i is free for the producer of position i.
      ::new (static_cast<void*>(cells + i * kCellStride)) std::atomic<std::uint64_t>(i);
    }
    // SYNC(ring-init): publishes the header and every cell sequence above to
    // attach()'s acquire load of magic.
    h->magic.store(kMagic, std::memory_order_release);
    return MpmcRing(h, capacity);
  }

  // Validates the header at mem[0, bytes) and returns a view. Corrupt,
  // truncated or hostile headers yield a typed Error, never a crash (the same
  // codes as SpscRing::attach). Cell sequences are not scanned (O(capacity));
  // a corrupt one makes the ops report full/empty, never touch memory outside
  // the ring. Any thread.
  [[nodiscard]] static Result<MpmcRing> attach(std::byte* mem, std::size_t bytes) noexcept {
    if (auto ok = ring_detail::check_ring_memory(kShape, mem, bytes); !ok) return ok.error();
    auto* h = reinterpret_cast<MpmcRingHeader*>(mem);
    // SYNC(ring-init): acquire pairs with create()'s release store of magic.
    if (h->magic.load(std::memory_order_acquire) != kMagic)
      return make_error(Errc::kBadMagic, "mpmc ring: no MPMC ring header at this address");
    // Read once, validate the snapshot, build from it (docs/rings.md, "Attach").
    ring_detail::RingHeaderSnapshot snap{};
    snap.version = ring_detail::read_once(h->version);
    snap.capacity = ring_detail::read_once(h->capacity);
    snap.elem_size = ring_detail::read_once(h->elem_size);
    snap.elem_align = ring_detail::read_once(h->elem_align);
    snap.cell_stride = ring_detail::read_once(h->cell_stride);
    snap.data_offset = ring_detail::read_once(h->data_offset);
    snap.cells_offset = ring_detail::read_once(h->cells_offset);
    snap.total_bytes = ring_detail::read_once(h->total_bytes);
    snap.produced = h->enqueue_pos.load(std::memory_order_acquire);
    snap.consumed = h->dequeue_pos.load(std::memory_order_acquire);
    auto capacity = ring_detail::validate_ring_snapshot(snap, kShape, bytes);
    if (!capacity) return capacity.error();
    return MpmcRing(h, capacity.value());
  }

  // Any thread. Copies `v` in; false if the ring is full (or a corrupt cell
  // sequence makes it look full). Never waits for a peer; retries only after
  // another producer's CAS succeeded.
  [[nodiscard]] bool try_push(const T& v) noexcept {
    std::uint64_t pos = h_->enqueue_pos.load(std::memory_order_relaxed);
    for (;;) {
      // SYNC(mpmc-cell-free): acquire pairs with the consumer's release of
      // seq = pos, so its read of the old element is done before we write.
      const std::uint64_t seq = seq_at(pos).load(std::memory_order_acquire);
      const auto dif = static_cast<std::int64_t>(seq - pos);
      if (dif == 0) {
        // seq_cst, not relaxed as in Vyukov: SYNC(ring-sleep) needs the claim
        // in the single total order before our waiter-count load below.
        if (h_->enqueue_pos.compare_exchange_weak(pos, pos + 1, std::memory_order_seq_cst,
                                                  std::memory_order_relaxed))
          break;
      } else if (dif < 0) {
        return false;  // the cell still holds the element of the previous lap
      } else if (!reload(h_->enqueue_pos, pos)) {
        return false;
      }
    }
    std::memcpy(data_at(pos), &v, sizeof(T));
    // SYNC(mpmc-cell-full): release publishes the element to the consumer's
    // acquire load of this sequence.
    seq_at(pos).store(pos + 1, std::memory_order_release);
    notify(h_->not_empty, 1);
    return true;
  }

  // Any thread. Moves the oldest claimable element into `out`; false if the
  // ring is empty, or its next cell is claimed but not yet written.
  [[nodiscard]] bool try_pop(T& out) noexcept {
    std::uint64_t pos = h_->dequeue_pos.load(std::memory_order_relaxed);
    for (;;) {
      // SYNC(mpmc-cell-full): acquire pairs with the producer's release.
      const std::uint64_t seq = seq_at(pos).load(std::memory_order_acquire);
      const auto dif = static_cast<std::int64_t>(seq - (pos + 1));
      if (dif == 0) {
        // seq_cst for SYNC(ring-sleep), as in try_push.
        if (h_->dequeue_pos.compare_exchange_weak(pos, pos + 1, std::memory_order_seq_cst,
                                                  std::memory_order_relaxed))
          break;
      } else if (dif < 0) {
        return false;  // not yet written for this lap
      } else if (!reload(h_->dequeue_pos, pos)) {
        return false;
      }
    }
    std::memcpy(&out, data_at(pos), sizeof(T));
    // SYNC(mpmc-cell-free): release hands the cell to the producer one lap on.
    seq_at(pos).store(pos + capacity_, std::memory_order_release);
    notify(h_->not_full, 1);
    return true;
  }

  // Any thread. Claims as many consecutive free cells as fit a prefix of
  // `items` with one CAS, fills them, and wakes at most that many sleepers
  // with one check; returns how many were pushed (0 if full).
  [[nodiscard]] std::size_t try_push_n(std::span<const T> items) noexcept {
    if (items.empty()) return 0;
    const std::uint64_t want = std::min<std::uint64_t>(items.size(), capacity_);
    std::uint64_t pos = h_->enqueue_pos.load(std::memory_order_relaxed);
    std::uint64_t n = 0;
    for (;;) {
      // SYNC(mpmc-cell-free): as in try_push, for every cell of the batch.
      const std::uint64_t seq = seq_at(pos).load(std::memory_order_acquire);
      const auto dif = static_cast<std::int64_t>(seq - pos);
      if (dif < 0) return 0;
      if (dif > 0) {
        if (!reload(h_->enqueue_pos, pos)) return 0;
        continue;
      }
      n = 1;
      while (n < want && seq_at(pos + n).load(std::memory_order_acquire) == pos + n) ++n;
      // Success from `pos` proves no other producer claimed any of the n
      // cells: positions only grow, so a claim of pos+k would have moved it.
      if (h_->enqueue_pos.compare_exchange_weak(pos, pos + n, std::memory_order_seq_cst,
                                                std::memory_order_relaxed))
        break;
    }
    for (std::uint64_t i = 0; i < n; ++i) std::memcpy(data_at(pos + i), &items[i], sizeof(T));
    for (std::uint64_t i = 0; i < n; ++i) {
      // SYNC(mpmc-cell-full): as in try_push.
      seq_at(pos + i).store(pos + i + 1, std::memory_order_release);
    }
    notify(h_->not_empty, n);
    return static_cast<std::size_t>(n);
  }

  // Any thread. Claims up to out.size() consecutive written cells with one
  // CAS; returns how many were popped, in ring order.
  [[nodiscard]] std::size_t try_pop_n(std::span<T> out) noexcept {
    if (out.empty()) return 0;
    const std::uint64_t want = std::min<std::uint64_t>(out.size(), capacity_);
    std::uint64_t pos = h_->dequeue_pos.load(std::memory_order_relaxed);
    std::uint64_t n = 0;
    for (;;) {
      // SYNC(mpmc-cell-full): as in try_pop, for every cell of the batch.
      const std::uint64_t seq = seq_at(pos).load(std::memory_order_acquire);
      const auto dif = static_cast<std::int64_t>(seq - (pos + 1));
      if (dif < 0) return 0;
      if (dif > 0) {
        if (!reload(h_->dequeue_pos, pos)) return 0;
        continue;
      }
      n = 1;
      while (n < want && seq_at(pos + n).load(std::memory_order_acquire) == pos + n + 1) ++n;
      if (h_->dequeue_pos.compare_exchange_weak(pos, pos + n, std::memory_order_seq_cst,
                                                std::memory_order_relaxed))
        break;
    }
    for (std::uint64_t i = 0; i < n; ++i) std::memcpy(&out[i], data_at(pos + i), sizeof(T));
    for (std::uint64_t i = 0; i < n; ++i) {
      // SYNC(mpmc-cell-free): as in try_pop.
      seq_at(pos + i).store(pos + i + capacity_, std::memory_order_release);
    }
    notify(h_->not_full, n);
    return static_cast<std::size_t>(n);
  }

  // Any thread. Like try_push, but waits up to `timeout` for room (spin,
  // yield, futex sleep ended by a consumer's pop). False on timeout. Blocking.
  [[nodiscard]] bool push(const T& v, std::chrono::nanoseconds timeout) noexcept {
    return ring_detail::block_until(
        h_->not_full, timeout, ring_detail::PeerOrdering::kSeqCst,
        [&]() noexcept { return try_push(v); },
        [&]() noexcept {
          // SYNC(ring-sleep): seq_cst re-read. A consumer that has claimed a
          // cell (moved dequeue_pos) will free it shortly: do not sleep.
          const std::uint64_t enq = h_->enqueue_pos.load(std::memory_order_seq_cst);
          const std::uint64_t deq = h_->dequeue_pos.load(std::memory_order_seq_cst);
          return static_cast<std::int64_t>(enq - deq) < static_cast<std::int64_t>(capacity_);
        });
  }

  // Any thread. Like try_pop, but waits up to `timeout` for an element. False
  // on timeout. Blocking.
  [[nodiscard]] bool pop(T& out, std::chrono::nanoseconds timeout) noexcept {
    return ring_detail::block_until(
        h_->not_empty, timeout, ring_detail::PeerOrdering::kSeqCst,
        [&]() noexcept { return try_pop(out); },
        [&]() noexcept {
          // SYNC(ring-sleep): seq_cst re-read. A producer that has claimed a
          // cell (moved enqueue_pos) will fill it shortly: do not sleep.
          const std::uint64_t enq = h_->enqueue_pos.load(std::memory_order_seq_cst);
          const std::uint64_t deq = h_->dequeue_pos.load(std::memory_order_seq_cst);
          return static_cast<std::int64_t>(enq - deq) > 0;
        });
  }

  [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }

  // Every byte this view's cell indexing can reach (cell 0 up to the end of
  // the last cell the mask allows). For tests and verifiers: an attached view
  // must keep this inside the memory it was given. Any thread.
  [[nodiscard]] std::span<const std::byte> cell_bytes() const noexcept {
    return {cells_, static_cast<std::size_t>((mask_ + 1) * kCellStride)};
  }

  // A snapshot that may be stale by the time it returns; for metrics only.
  [[nodiscard]] std::size_t size_approx() const noexcept {
    const std::uint64_t deq = h_->dequeue_pos.load(std::memory_order_relaxed);
    const std::uint64_t enq = h_->enqueue_pos.load(std::memory_order_relaxed);
    const auto used = static_cast<std::int64_t>(enq - deq);
    return used <= 0 ? 0 : static_cast<std::size_t>(std::min<std::int64_t>(used, capacity_));
  }

  // The shared header, for tests and for the arena's PROTOCOL.md checks.
  [[nodiscard]] const MpmcRingHeader& header() const noexcept { return *h_; }

 private:
  // `capacity` is the validated value, never a re-read of the header.
  MpmcRing(MpmcRingHeader* h, std::uint32_t capacity) noexcept
      : h_(h),
        cells_(reinterpret_cast<std::byte*>(h) + sizeof(MpmcRingHeader)),
        mask_(capacity - 1u),
        capacity_(capacity) {}

  [[nodiscard]] std::byte* cell(std::uint64_t pos) const noexcept {
    return cells_ + (pos & mask_) * kCellStride;  // masked: garbage cannot escape the ring
  }
  [[nodiscard]] std::atomic<std::uint64_t>& seq_at(std::uint64_t pos) const noexcept {
    return *std::launder(reinterpret_cast<std::atomic<std::uint64_t>*>(cell(pos)));
  }
  [[nodiscard]] std::byte* data_at(std::uint64_t pos) const noexcept {
    return cell(pos) + kDataOffset;
  }

  // Another thread moved the position past `pos` (the cell shows a later
  // lap): take the fresh value. If the position has not moved, the cell's
  // sequence is ahead of any lap the ring reached, which a healthy ring never
  // shows (a sequence of pos+1 is stored only after pos was claimed, and that
  // claim happens-before our acquire of the sequence): report corruption by
  // failing instead of spinning forever.
  [[nodiscard]] static bool reload(std::atomic<std::uint64_t>& position,
                                   std::uint64_t& pos) noexcept {
    const std::uint64_t fresh = position.load(std::memory_order_relaxed);
    if (fresh == pos) return false;
    pos = fresh;
    return true;
  }

  // SYNC(ring-sleep), publisher side: our seq_cst CAS precedes this seq_cst
  // load in the total order (a plain mov on x86, so the hot path pays nothing
  // beyond Vyukov's own CAS).
  static void notify(WaitWord& ww, std::uint64_t count) noexcept {
    if (ww.waiters.load(std::memory_order_seq_cst) != 0)
      (void)fetch_add_and_wake(ww, 1, static_cast<int>(std::min<std::uint64_t>(count, INT_MAX)));
  }

  MpmcRingHeader* h_;
  std::byte* cells_;
  std::uint64_t mask_;
  std::uint32_t capacity_;
};

}  // namespace triptych
