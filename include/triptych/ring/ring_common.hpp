// SPDX-License-Identifier: Apache-2.0
// Pieces shared by SpscRing and MpmcRing: the element and ring concepts, the
// header constants, the asymmetric (membarrier) barrier, and block_until, the
// spin -> yield -> futex loop behind the blocking push/pop. Concepts and
// constants are compile-time; the barrier is a syscall; block_until blocks up
// to its timeout. Callable from any thread; the rings say which side may
// block on which word. Design, layout and orderings: docs/rings.md.
#pragma once

#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "triptych/core/config.hpp"
#include "triptych/core/result.hpp"
#include "triptych/sync/futex.hpp"

namespace triptych {

// What a ring can carry: bytes that another process may copy out with memcpy.
// No constructor or destructor ever runs on a cell, so non-trivial types are
// refused at compile time rather than silently bit-copied.
template <class T>
concept RingElement = std::is_trivially_copyable_v<T> && !std::is_const_v<T> &&
                      !std::is_volatile_v<T> && sizeof(T) >= 1 && alignof(T) <= kCacheLine;

// The non-blocking surface both rings share; pipeline stages that only move
// control messages take any `Ring<T>`.
template <class R, class T>
concept Ring = requires(R r, const T& in, T& out, std::span<const T> ins, std::span<T> outs) {
  { r.try_push(in) } noexcept -> std::same_as<bool>;
  { r.try_pop(out) } noexcept -> std::same_as<bool>;
  { r.try_push_n(ins) } noexcept -> std::same_as<std::size_t>;
  { r.try_pop_n(outs) } noexcept -> std::same_as<std::size_t>;
  { r.capacity() } noexcept -> std::same_as<std::uint32_t>;
};

inline constexpr std::uint32_t kRingLayoutVersion = 1;
// Capacity is a 32-bit power of two; positions are 64-bit and never wrap in
// practice (2^64 pushes at 10^9/s is 584 years), so no ABA on positions.
inline constexpr std::uint32_t kRingMinCapacity = 2;
inline constexpr std::uint32_t kRingMaxCapacity = std::uint32_t{1} << 31;

namespace ring_detail {

using Clock = std::chrono::steady_clock;

// A timeout beyond this is treated as "forever", so now() + timeout cannot
// overflow the clock's representation.
inline constexpr std::chrono::nanoseconds kForeverThreshold = std::chrono::hours(24 * 365 * 100);

// Turns a relative timeout into a deadline once, so retries after spurious
// wakes do not extend the total wait.
class Deadline {
 public:
  explicit Deadline(std::chrono::nanoseconds timeout) noexcept
      : forever_(timeout >= kForeverThreshold),
        at_(forever_ ? Clock::time_point::max()
                     : Clock::now() + (timeout < std::chrono::nanoseconds::zero()
                                           ? std::chrono::nanoseconds::zero()
                                           : timeout)) {}

  // kWaitForever, or the time left (never negative).
  [[nodiscard]] std::chrono::nanoseconds remaining() const noexcept {
    if (forever_) return kWaitForever;
    const auto left = at_ - Clock::now();
    return left > std::chrono::nanoseconds::zero()
               ? std::chrono::duration_cast<std::chrono::nanoseconds>(left)
               : std::chrono::nanoseconds::zero();
  }
  [[nodiscard]] bool expired() const noexcept {
    return !forever_ && Clock::now() >= at_;
  }

 private:
  bool forever_;
  Clock::time_point at_;
};

[[nodiscard]] constexpr bool valid_capacity(std::uint64_t capacity) noexcept {
  return capacity >= kRingMinCapacity && capacity <= kRingMaxCapacity &&
         is_power_of_two(capacity);
}

// ---- attach: read every header field once, validate the snapshot ----

// Reads a plain header field exactly once, as a relaxed atomic load. A peer
// (possibly hostile, possibly in another process) may be rewriting it while
// we attach; a relaxed load makes that a legitimate race with a defined value
// instead of a data race, and attach builds its view from the value read here,
// never from a second read. The acquire load of `magic` that precedes these
// loads orders them after create()'s initialisation (SYNC(ring-init)).
template <class U>
[[nodiscard]] U read_once(U& field) noexcept {
  static_assert(std::atomic_ref<U>::is_always_lock_free, "header fields are plain lock-free words");
  return std::atomic_ref<U>(field).load(std::memory_order_relaxed);
}

// One read of every header field attach() relies on. SPSC headers record no
// cell stride or data offset: their attach fills in the expected values.
struct RingHeaderSnapshot {
  std::uint32_t version;
  std::uint32_t capacity;
  std::uint32_t elem_size;
  std::uint32_t elem_align;
  std::uint32_t cell_stride;
  std::uint32_t data_offset;
  std::uint64_t cells_offset;
  std::uint64_t total_bytes;
  std::uint64_t produced;  // tail / enqueue_pos, read before `consumed`
  std::uint64_t consumed;  // head / dequeue_pos
};

// What this build expects of a ring header for element type T.
struct RingShape {
  const char* name;  // "spsc ring" / "mpmc ring", for messages
  std::uint32_t elem_size;
  std::uint32_t elem_align;
  std::uint32_t cell_stride;
  std::uint32_t data_offset;
  std::uint64_t header_bytes;
  std::size_t (*required_bytes)(std::uint32_t capacity) noexcept;
};

// The memory checks that precede any read of the header.
[[nodiscard]] inline Result<void> check_ring_memory(const RingShape& want, const std::byte* mem,
                                                    std::size_t bytes) noexcept {
  const std::string name = want.name;
  if (mem == nullptr) return make_error(Errc::kInvalidArgument, name + ": null memory");
  if (reinterpret_cast<std::uintptr_t>(mem) % kCacheLine != 0)
    return make_error(Errc::kMisaligned, name + ": memory is not 64-byte aligned");
  if (bytes < want.header_bytes)
    return make_error(Errc::kTooSmall, name + ": " + std::to_string(bytes) +
                                           " bytes cannot hold the " +
                                           std::to_string(want.header_bytes) + "-byte header");
  return {};
}

// The one attach validator both rings use. Checks the snapshot (and only the
// snapshot) against the element type and the bytes actually available, and
// returns the capacity the view must be built from: mask and capacity come
// from this one value, so they cannot disagree.
[[nodiscard]] inline Result<std::uint32_t> validate_ring_snapshot(const RingHeaderSnapshot& s,
                                                                  const RingShape& want,
                                                                  std::size_t bytes) noexcept {
  const std::string name = want.name;
  if (s.version != kRingLayoutVersion)
    return make_error(Errc::kBadVersion, name + ": layout version " + std::to_string(s.version) +
                                             ", expected " + std::to_string(kRingLayoutVersion));
  if (s.elem_size != want.elem_size || s.elem_align != want.elem_align)
    return make_error(Errc::kCorruptHeader,
                      name + ": created for " + std::to_string(s.elem_size) +
                          "-byte elements (align " + std::to_string(s.elem_align) +
                          "), attached as " + std::to_string(want.elem_size) + "-byte (align " +
                          std::to_string(want.elem_align) + ")");
  if (!valid_capacity(s.capacity))
    return make_error(Errc::kCorruptHeader, name + ": capacity " + std::to_string(s.capacity) +
                                                " is not a power of two in [2, 2^31]");
  const std::size_t need = want.required_bytes(s.capacity);
  if (need == 0 || s.cell_stride != want.cell_stride || s.data_offset != want.data_offset ||
      s.cells_offset != want.header_bytes || s.total_bytes != need)
    return make_error(Errc::kCorruptHeader,
                      name + ": recorded cell offset " + std::to_string(s.cells_offset) +
                          " / stride " + std::to_string(s.cell_stride) + " / data offset " +
                          std::to_string(s.data_offset) + " / size " +
                          std::to_string(s.total_bytes) +
                          " disagree with the element type and capacity");
  if (bytes < need)
    return make_error(Errc::kTooSmall, name + ": capacity " + std::to_string(s.capacity) +
                                           " needs " + std::to_string(need) + " bytes, only " +
                                           std::to_string(bytes) + " available");
  // `produced` was read first: while the ring is live the consumer side only
  // moves towards it, so a healthy ring never shows more than `capacity`
  // elements in between.
  if (static_cast<std::int64_t>(s.produced - s.consumed) > static_cast<std::int64_t>(s.capacity))
    return make_error(Errc::kCorruptHeader, name + ": write position " +
                                                std::to_string(s.produced) +
                                                " is more than capacity ahead of read position " +
                                                std::to_string(s.consumed));
  return s.capacity;
}

// Asymmetric Dekker barrier (Linux membarrier, GLOBAL_EXPEDITED). The SPSC
// hot path publishes with a plain release store and then reads the peer's
// waiter count; without a StoreLoad barrier that read could see "nobody
// sleeps" while the peer, which has just registered, still sees the old
// position and sleeps: a lost wake-up. A StoreLoad barrier per operation (a
// locked instruction) costs 10-20x throughput, so the rare side (a thread
// about to sleep) pays instead: membarrier makes every running thread of every
// registered process execute a full barrier before it returns (docs/rings.md).
// Registration is per process, once, on first use; false if the kernel or a
// seccomp filter refuses it, and then publishers use seq_cst RMWs instead.
[[nodiscard]] inline bool asymmetric_barrier_ready() noexcept {
  static const bool ready =
      syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
  return ready;
}

// The heavy half: false if it could not run (then the caller must not trust
// a light-path peer to see it, and sleeps in bounded slices).
[[nodiscard]] inline bool heavy_barrier() noexcept {
  return asymmetric_barrier_ready() &&
         syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0;
}

// Longest single sleep when heavy_barrier() failed: the bound on a missed
// wake-up in that degraded mode (a peer in another process using the light
// path while this process may not issue membarrier).
inline constexpr std::chrono::nanoseconds kFallbackSleepSlice = std::chrono::milliseconds(1);

// How a sleeper makes its registration visible to the peer before re-reading
// the ring. kSeqCst: the peer always makes progress with a seq_cst RMW before
// it loads the waiter count (MPMC). kAsymmetric: the peer may use the light
// path, so the sleeper issues heavy_barrier() (SPSC).
enum class PeerOrdering { kSeqCst, kAsymmetric };

// The blocking half of push/pop, shared by both rings: bounded spin on the
// non-blocking op, then bounded yield, then sleep on `ww` until a peer bumps
// it. `try_op` is the non-blocking op; `ready` re-reads the ring with seq_cst
// loads and says whether sleeping would be wrong (the op could succeed, or a
// peer is part-way through an op that will make it succeed).
//
// SYNC(ring-sleep): the lost-wake-up argument (docs/rings.md). We increment
// `ww.waiters` (seq_cst) and only then re-read the ring. The peer makes
// progress, then loads `ww.waiters` and bumps `ww.value` if it is non-zero.
// Either the peer's load sees our registration (and its bump wakes us, or
// changes the value we are about to sleep on), or its progress precedes our
// re-read, which then sees it and we do not sleep.
template <class TryOp, class Ready>
[[nodiscard]] bool block_until(WaitWord& ww, std::chrono::nanoseconds timeout,
                               PeerOrdering peer, TryOp&& try_op, Ready&& ready) noexcept {
  if (try_op()) return true;
  if (timeout <= std::chrono::nanoseconds::zero()) return false;
  const Deadline deadline(timeout);
  for (std::uint32_t i = 0; i < kDefaultSpinIterations; ++i) {
    cpu_relax();
    if (try_op()) return true;
  }
  for (std::uint32_t i = 0; i < kDefaultYieldIterations; ++i) {
    if (deadline.expired()) return false;
    sched_yield();
    if (try_op()) return true;
  }
  for (;;) {
    ww.waiters.fetch_add(1, std::memory_order_seq_cst);  // SYNC(ring-sleep)
    const bool barrier_ok = peer == PeerOrdering::kSeqCst || heavy_barrier();
    const std::uint32_t seen = ww.value.load(std::memory_order_seq_cst);
    const bool skip_sleep = ready();  // SYNC(ring-sleep): the re-read
    if (!skip_sleep) {
      std::chrono::nanoseconds slice = deadline.remaining();
      if (!barrier_ok && slice > kFallbackSleepSlice) slice = kFallbackSleepSlice;
      (void)wait(ww, seen, slice, kNoSpin);
    }
    // A hint only: a stale non-zero count costs the peer one spare syscall.
    ww.waiters.fetch_sub(1, std::memory_order_relaxed);
    if (try_op()) return true;
    if (deadline.expired()) return false;
    // Ready but the op failed: a peer claimed a cell and has not finished
    // writing it (MPMC), or a rival consumer won. Let it run.
    if (skip_sleep) sched_yield();
  }
}

}  // namespace ring_detail
}  // namespace triptych
