// SPDX-License-Identifier: Apache-2.0
// The pool's private state, shared by its three files: pool.cpp (task groups,
// creation, the worker loop), pool_dispatch.cpp (the shared queue, submit,
// spawn, parallel_for) and pool_members.cpp (external members, metrics). Not
// a public header: include/triptych/sched/pool.hpp is the pool's contract.
#pragma once

#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>

#include "triptych/sched/chase_lev.hpp"
#include "triptych/sched/pool.hpp"

namespace triptych::sched {
namespace pool_internal {

using Clock = std::chrono::steady_clock;

// Idle bounds (CONVENTIONS.md #10): spin on the queues, then yield, then park.
// 64 empty searches take a few µs: enough to catch the next chunk of a frame
// without burning a core between frames.
constexpr std::uint32_t kIdleSpinRounds = 64;
constexpr std::uint32_t kIdleYieldRounds = 4;
// A woken owner gets this many searches of a head start before thieves may
// empty its inbox (keeps chunks on their previous core when unloaded).
constexpr std::uint32_t kInboxStealRounds = 16;
// Liveness re-check for every park: a missed wake would cost at most this.
constexpr std::chrono::milliseconds kParkTimeout{100};
// A helper with nothing to run sleeps on its group this long between checks.
constexpr std::chrono::milliseconds kHelpSleep{1};
constexpr std::uint32_t kNoSlot = 0xffffffffu;

inline thread_local const Pool* tl_pool = nullptr;
inline thread_local std::uint32_t tl_slot = kNoSlot;

// A slot's CPU as a set for pin_current_thread (empty: unpinned).
inline CpuSet cpus_of_slot(std::uint32_t cpu) { return cpu == kNoSlot ? CpuSet{} : CpuSet{cpu}; }

inline std::uint64_t xorshift(std::uint64_t& s) noexcept {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

}  // namespace pool_internal

using pool_internal::kNoSlot;

// Per-member state. Owner-written counters are relaxed: they are statistics,
// read by metrics() as a snapshot.
struct alignas(kCacheLine) Pool::Slot {
  ChaseLevDeque<Task*> deque;
  // SYNC(inbox): a dispatcher's seq_cst CAS publishes its chunk list to the
  // taker's acquire exchange.
  alignas(kCacheLine) std::atomic<Task*> inbox{nullptr};
  std::atomic<bool> active{false};
  std::uint32_t cpu = kNoSlot;
  bool numa_allocated = false;
  cpu_set_t saved_affinity{};  // external members: restored on leave
  std::uint64_t repin_epoch = 0;  // the repin() set this member runs on (owner only)
  alignas(kCacheLine) std::uint64_t rng = 1;
  std::atomic<std::uint64_t> executed{0};
  std::atomic<std::uint64_t> steals{0};
  std::atomic<std::uint64_t> steal_attempts{0};
  std::atomic<std::uint64_t> parks{0};
  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> misses{0};

  void bump(std::atomic<std::uint64_t>& c) noexcept { c.fetch_add(1, std::memory_order_relaxed); }
};

struct Pool::Shared {
  std::mutex mu;
  std::deque<Task*> q;  // FIFO
  // Backpressure accounting, all under mu so a snapshot is exact.
  std::uint64_t submitted = 0;
  std::uint64_t completed = 0;
  std::uint64_t rejected = 0;
  std::uint64_t dropped = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t queued_submitted = 0;
  std::uint64_t max_seen = 0;
  std::atomic<std::uint64_t> outsider_executed{0};
};

struct AffinityPartitioner::Chunk final : Task {
  void execute(std::uint32_t) override { fn(ctx, begin, end); }
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t index = 0;
  std::uint32_t preferred = 0;
  void (*fn)(void*, std::size_t, std::size_t) = nullptr;
  void* ctx = nullptr;
  AffinityPartitioner* owner = nullptr;
};

}  // namespace triptych::sched
