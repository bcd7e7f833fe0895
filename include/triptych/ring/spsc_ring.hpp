// SPDX-License-Identifier: Apache-2.0
// SpscRing<T>: a bounded single-producer single-consumer ring that lives
// entirely inside caller-provided (arena) memory: a 192-byte header, then
// `capacity` cells, no pointers, so another process that maps the same bytes
// can attach to it. Progress: try_push / try_pop / try_push_n / try_pop_n are
// wait-free (a bounded number of steps, no loops); push / pop are blocking
// (bounded spin, bounded yield, then futex sleep with a timeout). Callers: at
// most one producer thread (try_push*, push) and one consumer thread
// (try_pop*, pop) at any time, across all views and processes; create/attach
// from any thread. Each side keeps a cached copy of the other side's position
// on its own cache line, so the hot path touches the peer's line only when the
// ring looks full (producer) or empty (consumer); a thread about to sleep pays
// for the wake-up handshake (a membarrier), the hot path does not. Design:
// docs/rings.md.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
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

// The in-arena header. Line 0 is written once by create(); line 1 only by the
// producer (plus `not_empty.waiters` by a sleeping consumer); line 2 only by
// the consumer (plus `not_full.waiters` by a sleeping producer).
struct alignas(kCacheLine) SpscRingHeader {
  // --- line 0: identity, immutable after create() ---
  std::atomic<std::uint64_t> magic;  // release-stored last by create()
  std::uint32_t version;
  std::uint32_t capacity;      // cells; a power of two in [2, 2^31]
  std::uint32_t elem_size;     // sizeof(T) of the creator
  std::uint32_t elem_align;    // alignof(T) of the creator
  std::uint64_t cells_offset;  // from the header start; sizeof(SpscRingHeader)
  std::uint64_t total_bytes;   // required_bytes(capacity)
  std::byte reserved0[24];

  // --- line 1: producer ---
  alignas(kCacheLine) std::atomic<std::uint64_t> tail;  // next position to write
  std::uint64_t cached_head;  // producer-private copy of `head`
  WaitWord not_empty;         // bumped by the producer when a consumer sleeps
  std::byte reserved1[40];

  // --- line 2: consumer ---
  alignas(kCacheLine) std::atomic<std::uint64_t> head;  // next position to read
  std::uint64_t cached_tail;  // consumer-private copy of `tail`
  WaitWord not_full;          // bumped by the consumer when a producer sleeps
  std::byte reserved2[40];

  SpscRingHeader() noexcept = default;
  SpscRingHeader(const SpscRingHeader&) = delete;
  SpscRingHeader& operator=(const SpscRingHeader&) = delete;
};

static_assert(std::is_standard_layout_v<SpscRingHeader>,
              "the header is read by other processes: it must have a C layout");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "positions are shared across processes: they must be plain lock-free words");
static_assert(sizeof(SpscRingHeader) == 3 * kCacheLine,
              "docs/rings.md fixes the header at three cache lines");
static_assert(sizeof(SpscRingHeader) % kCacheLine == 0,
              "cells start on a cache line so they never share one with the indices");
static_assert(offsetof(SpscRingHeader, magic) == 0, "magic comes first so any reader can check it");
static_assert(offsetof(SpscRingHeader, tail) == 1 * kCacheLine, "docs/rings.md: tail at 64");
static_assert(offsetof(SpscRingHeader, head) == 2 * kCacheLine, "docs/rings.md: head at 128");
static_assert(offsetof(SpscRingHeader, head) - offsetof(SpscRingHeader, tail) >= kCacheLine,
              "head and tail must be a cache line apart, or the two sides false-share");
static_assert(offsetof(SpscRingHeader, not_empty) / kCacheLine ==
                  offsetof(SpscRingHeader, tail) / kCacheLine,
              "not_empty is bumped by the producer: it lives on the producer's line");
static_assert(offsetof(SpscRingHeader, not_full) / kCacheLine ==
                  offsetof(SpscRingHeader, head) / kCacheLine,
              "not_full is bumped by the consumer: it lives on the consumer's line");

template <RingElement T>
class SpscRing {
 public:
  // "TRPSPSC1" read as a little-endian 64-bit integer.
  static constexpr std::uint64_t kMagic = 0x3143535053505254ull;

  // Bytes needed for a ring of `capacity` cells, rounded up to a cache line so
  // whatever the arena places next stays aligned. 0 if `capacity` is not a
  // power of two in [2, 2^31].
  [[nodiscard]] static constexpr std::size_t required_bytes(std::uint32_t capacity) noexcept {
    if (!ring_detail::valid_capacity(capacity)) return 0;
    const std::uint64_t cells = std::uint64_t{capacity} * sizeof(T);  // < 2^31 * 2^32: no overflow
    return static_cast<std::size_t>(align_up(sizeof(SpscRingHeader) + cells, kCacheLine));
  }

  // What attach() expects of the header (ring_detail::validate_ring_snapshot).
  static constexpr ring_detail::RingShape kShape{
      "spsc ring", static_cast<std::uint32_t>(sizeof(T)), static_cast<std::uint32_t>(alignof(T)),
      static_cast<std::uint32_t>(sizeof(T)), 0, sizeof(SpscRingHeader), &required_bytes};

  // Builds an empty ring in place over mem[0, bytes). Not thread-safe with
  // respect to users of the same bytes: nobody may use them until it returns.
  // Fails (never crashes) on a null or misaligned `mem`, a bad capacity, or
  // too few bytes. Does not allocate except for an error's message.
  [[nodiscard]] static Result<SpscRing> create(std::byte* mem, std::size_t bytes,
                                               std::uint32_t capacity) noexcept {
    if (mem == nullptr) return make_error(Errc::kInvalidArgument, "spsc ring: null memory");
    if (reinterpret_cast<std::uintptr_t>(mem) % kCacheLine != 0)
      return make_error(Errc::kMisaligned, "spsc ring: memory is not 64-byte aligned");
    if (!ring_detail::valid_capacity(capacity))
      return make_error(Errc::kInvalidArgument, "spsc ring: capacity " + std::to_string(capacity) +
                                                    " is not a power of two in [2, 2^31]");
    const std::size_t need = required_bytes(capacity);
    if (bytes < need)
      return make_error(Errc::kTooSmall, "spsc ring: capacity " + std::to_string(capacity) +
                                             " needs " + std::to_string(need) + " bytes, got " +
                                             std::to_string(bytes));
    auto* h = ::new (static_cast<void*>(mem)) SpscRingHeader();
    h->magic.store(0, std::memory_order_relaxed);
    h->version = kRingLayoutVersion;
    h->capacity = capacity;
    h->elem_size = static_cast<std::uint32_t>(sizeof(T));
    h->elem_align = static_cast<std::uint32_t>(alignof(T));
    h->cells_offset = sizeof(SpscRingHeader);
    h->total_bytes = need;
    h->tail.store(0, std::memory_order_relaxed);
    h->cached_head = 0;
    h->head.store(0, std::memory_order_relaxed);
    h->cached_tail = 0;
    // SYNC(ring-init): publishes every header field above to attach()'s acquire load.
    h->magic.store(kMagic, std::memory_order_release);
    return SpscRing(h, capacity);
  }

  // Validates the header at mem[0, bytes) and returns a view of it. A corrupt,
  // truncated or hostile header yields a typed Error, never a crash: magic
  // (kBadMagic), version (kBadVersion), element size/alignment, capacity,
  // recorded sizes and positions (kCorruptHeader), bytes too few for the
  // recorded capacity (kTooSmall), null (kInvalidArgument) or misaligned
  // (kMisaligned) memory. Any thread; does not allocate except for errors.
  [[nodiscard]] static Result<SpscRing> attach(std::byte* mem, std::size_t bytes) noexcept {
    if (auto ok = ring_detail::check_ring_memory(kShape, mem, bytes); !ok) return ok.error();
    auto* h = reinterpret_cast<SpscRingHeader*>(mem);
    // SYNC(ring-init): acquire pairs with create()'s release store of magic.
    if (h->magic.load(std::memory_order_acquire) != kMagic)
      return make_error(Errc::kBadMagic, "spsc ring: no SPSC ring header at this address");
    // Read once: every field below is validated and used from this snapshot
    // only (docs/rings.md, "Attach"); a peer rewriting the header meanwhile
    // can make attach refuse, never accept a view it did not validate.
    ring_detail::RingHeaderSnapshot snap{};
    snap.version = ring_detail::read_once(h->version);
    snap.capacity = ring_detail::read_once(h->capacity);
    snap.elem_size = ring_detail::read_once(h->elem_size);
    snap.elem_align = ring_detail::read_once(h->elem_align);
    snap.cell_stride = kShape.cell_stride;  // not recorded by SPSC headers
    snap.data_offset = kShape.data_offset;
    snap.cells_offset = ring_detail::read_once(h->cells_offset);
    snap.total_bytes = ring_detail::read_once(h->total_bytes);
    snap.produced = h->tail.load(std::memory_order_acquire);
    snap.consumed = h->head.load(std::memory_order_acquire);
    auto capacity = ring_detail::validate_ring_snapshot(snap, kShape, bytes);
    if (!capacity) return capacity.error();
    return SpscRing(h, capacity.value());
  }

  // Producer only. Copies `v` into the ring; false if full. Wait-free.
  [[nodiscard]] bool try_push(const T& v) noexcept {
    const std::uint64_t t = h_->tail.load(std::memory_order_relaxed);  // our own index
    if (free_slots(t, h_->cached_head) == 0) {
      // SYNC(spsc-head): acquire pairs with the consumer's head publish, so
      // the cells it read are free before we overwrite them.
      h_->cached_head = h_->head.load(std::memory_order_acquire);
      if (free_slots(t, h_->cached_head) == 0) return false;
    }
    std::memcpy(cell(t), &v, sizeof(T));
    publish_tail(t + 1);
    return true;
  }

  // Consumer only. Moves the oldest element into `out`; false if empty.
  // Wait-free.
  [[nodiscard]] bool try_pop(T& out) noexcept {
    const std::uint64_t hd = h_->head.load(std::memory_order_relaxed);  // our own index
    if (used_slots(h_->cached_tail, hd) == 0) {
      // SYNC(spsc-tail): acquire pairs with the producer's tail publish, so
      // the cells it wrote are visible before we read them.
      h_->cached_tail = h_->tail.load(std::memory_order_acquire);
      if (used_slots(h_->cached_tail, hd) == 0) return false;
    }
    std::memcpy(&out, cell(hd), sizeof(T));
    publish_head(hd + 1);
    return true;
  }

  // Producer only. Pushes a prefix of `items` (as many as fit) and publishes
  // them with one store; returns how many. Wait-free.
  [[nodiscard]] std::size_t try_push_n(std::span<const T> items) noexcept {
    if (items.empty()) return 0;
    const std::uint64_t t = h_->tail.load(std::memory_order_relaxed);
    std::uint64_t room = free_slots(t, h_->cached_head);
    if (room < items.size()) {
      // SYNC(spsc-head): as in try_push.
      h_->cached_head = h_->head.load(std::memory_order_acquire);
      room = free_slots(t, h_->cached_head);
    }
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(room, items.size()));
    if (n == 0) return 0;
    copy_in(t, items.first(n));
    publish_tail(t + n);
    return n;
  }

  // Consumer only. Pops up to out.size() elements in order, releasing their
  // cells with one store; returns how many. Wait-free.
  [[nodiscard]] std::size_t try_pop_n(std::span<T> out) noexcept {
    if (out.empty()) return 0;
    const std::uint64_t hd = h_->head.load(std::memory_order_relaxed);
    std::uint64_t avail = used_slots(h_->cached_tail, hd);
    if (avail < out.size()) {
      // SYNC(spsc-tail): as in try_pop.
      h_->cached_tail = h_->tail.load(std::memory_order_acquire);
      avail = used_slots(h_->cached_tail, hd);
    }
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(avail, out.size()));
    if (n == 0) return 0;
    copy_out(hd, out.first(n));
    publish_head(hd + n);
    return n;
  }

  // Producer only. Like try_push, but waits up to `timeout` for room: bounded
  // spin, bounded yield, then a futex sleep that the consumer's next pop ends.
  // False on timeout (a zero or negative timeout is one try). Blocking.
  [[nodiscard]] bool push(const T& v, std::chrono::nanoseconds timeout) noexcept {
    return ring_detail::block_until(
        h_->not_full, timeout, ring_detail::PeerOrdering::kAsymmetric, [&]() noexcept { return try_push(v); },
        [&]() noexcept {
          // SYNC(ring-sleep): re-read after registering and the heavy barrier.
          const std::uint64_t hd = h_->head.load(std::memory_order_seq_cst);
          return free_slots(h_->tail.load(std::memory_order_relaxed), hd) != 0;
        });
  }

  // Consumer only. Like try_pop, but waits up to `timeout` for an element.
  // False on timeout. Blocking.
  [[nodiscard]] bool pop(T& out, std::chrono::nanoseconds timeout) noexcept {
    return ring_detail::block_until(
        h_->not_empty, timeout, ring_detail::PeerOrdering::kAsymmetric, [&]() noexcept { return try_pop(out); },
        [&]() noexcept {
          // SYNC(ring-sleep): re-read after registering and the heavy barrier.
          const std::uint64_t t = h_->tail.load(std::memory_order_seq_cst);
          return used_slots(t, h_->head.load(std::memory_order_relaxed)) != 0;
        });
  }

  [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }

  // Every byte this view's cell indexing can reach (cell 0 up to the end of
  // the last cell the mask allows). For tests and verifiers: an attached view
  // must keep this inside the memory it was given. Any thread.
  [[nodiscard]] std::span<const std::byte> cell_bytes() const noexcept {
    return {cells_, static_cast<std::size_t>((mask_ + 1) * sizeof(T))};
  }

  // A snapshot that may be stale by the time it returns; for metrics only.
  [[nodiscard]] std::size_t size_approx() const noexcept {
    const std::uint64_t hd = h_->head.load(std::memory_order_relaxed);
    const std::uint64_t t = h_->tail.load(std::memory_order_relaxed);
    return static_cast<std::size_t>(used_slots(t, hd));
  }

  // The shared header, for tests and for the arena's PROTOCOL.md checks.
  [[nodiscard]] const SpscRingHeader& header() const noexcept { return *h_; }

 private:
  // `capacity` is the validated value, never a re-read of the header.
  SpscRing(SpscRingHeader* h, std::uint32_t capacity) noexcept
      : h_(h),
        cells_(reinterpret_cast<std::byte*>(h) + sizeof(SpscRingHeader)),
        mask_(capacity - 1u),
        capacity_(capacity),
        light_(ring_detail::asymmetric_barrier_ready()) {}

  // Both clamp a corrupt pair of positions (a peer wrote garbage) to "full" /
  // "empty" instead of trusting it; cell indices are masked, so garbage can
  // never address memory outside the ring.
  [[nodiscard]] std::uint64_t free_slots(std::uint64_t tail, std::uint64_t head) const noexcept {
    const std::uint64_t used = tail - head;
    return used <= capacity_ ? capacity_ - used : 0;
  }
  [[nodiscard]] std::uint64_t used_slots(std::uint64_t tail, std::uint64_t head) const noexcept {
    const std::uint64_t used = tail - head;
    return used <= capacity_ ? used : 0;
  }

  [[nodiscard]] std::byte* cell(std::uint64_t pos) const noexcept {
    return cells_ + (pos & mask_) * sizeof(T);
  }

  void copy_in(std::uint64_t pos, std::span<const T> items) noexcept {
    const std::size_t first = std::min<std::size_t>(items.size(), capacity_ - (pos & mask_));
    std::memcpy(cell(pos), items.data(), first * sizeof(T));
    std::memcpy(cells_, items.data() + first, (items.size() - first) * sizeof(T));
  }
  void copy_out(std::uint64_t pos, std::span<T> out) const noexcept {
    const std::size_t first = std::min<std::size_t>(out.size(), capacity_ - (pos & mask_));
    std::memcpy(out.data(), cell(pos), first * sizeof(T));
    std::memcpy(out.data() + first, cells_, (out.size() - first) * sizeof(T));
  }

  // SYNC(ring-sleep), publisher side. Light path (this process is registered
  // for membarrier): a release store, then a relaxed load of the waiter count
  // on our own line; a sleeper's heavy_barrier() supplies the StoreLoad order.
  // Fallback: a seq_cst RMW (one xchg on x86; GCC emits a seq_cst store as
  // mov+mfence) followed by a seq_cst load, the symmetric Dekker pair.
  void publish(std::atomic<std::uint64_t>& pos, std::uint64_t next, WaitWord& peer) noexcept {
    if (light_) {
      pos.store(next, std::memory_order_release);
      // Compiler-only fence, unavoidable: it keeps the load below after the
      // store above; the CPU order comes from the sleeper's membarrier.
      std::atomic_signal_fence(std::memory_order_seq_cst);
      if (peer.waiters.load(std::memory_order_relaxed) != 0) (void)fetch_add_and_wake(peer, 1, 1);
    } else {
      (void)pos.exchange(next, std::memory_order_seq_cst);
      if (peer.waiters.load(std::memory_order_seq_cst) != 0) (void)fetch_add_and_wake(peer, 1, 1);
    }
  }
  void publish_tail(std::uint64_t next) noexcept {
    // SYNC(spsc-tail): the release publishes the cells written before it to
    // the consumer's acquire load of tail.
    publish(h_->tail, next, h_->not_empty);
  }
  void publish_head(std::uint64_t next) noexcept {
    // SYNC(spsc-head): the release hands the cells read before it back to the
    // producer's acquire load of head.
    publish(h_->head, next, h_->not_full);
  }

  SpscRingHeader* h_;
  std::byte* cells_;
  std::uint64_t mask_;
  std::uint32_t capacity_;
  bool light_;  // this process is registered for membarrier
};

}  // namespace triptych
