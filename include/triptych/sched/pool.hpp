// SPDX-License-Identifier: Apache-2.0
// Pool: a named pool of pinned worker threads with per-member Chase–Lev
// deques, random-victim bounded stealing, futex parking, task groups,
// parallel_for with an affinity-preserving partitioner, external members
// (threads the pool did not create, e.g. Node workers), backpressure on
// submitted work, and re-pinning every member to a new CPU set (repin).
// Blocking API: submit may block (policy kBlock), wait blocks or helps. Any
// thread may submit, spawn into a TaskGroup, call parallel_for, wait or
// repin; a member thread spawns onto its own deque. Each Member handle is
// used only by the thread that joined. Design: docs/scheduler.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "triptych/core/config.hpp"
#include "triptych/core/result.hpp"
#include "triptych/sched/core_plan.hpp"
#include "triptych/sched/topology.hpp"
#include "triptych/sync/futex.hpp"

namespace triptych::sched {

class Pool;
class TaskGroup;
class Task;
class Member;
namespace detail {
Task* make_heap(Task* t, bool submitted) noexcept;
void set_group(Task* t, TaskGroup* g) noexcept;
}  // namespace detail

// A unit of work. Heap tasks made by submit/TaskGroup::run delete themselves
// after running; parallel_for's chunks live in the partitioner or the call.
class Task {
 public:
  Task() = default;
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  virtual ~Task() = default;
  virtual void execute(std::uint32_t member) = 0;

 private:
  friend class Pool;
  friend class TaskGroup;
  friend class Member;
  friend class AffinityPartitioner;
  friend Task* detail::make_heap(Task* t, bool submitted) noexcept;
  friend void detail::set_group(Task* t, TaskGroup* g) noexcept;
  enum class Origin : std::uint8_t { kSpawned, kSubmitted, kChunk };
  Task* next_ = nullptr;  // inbox / injection link, owned by whoever holds the list
  TaskGroup* group_ = nullptr;
  Origin origin_ = Origin::kSpawned;
  bool heap_ = false;
};

// Counts outstanding tasks; wait() returns once all have run. A member thread
// helps (runs pool work) while it waits; other threads block on a futex (or
// help, when the pool has no threads of its own). Not reusable concurrently:
// spawn, then wait, then spawn again.
class TaskGroup {
 public:
  explicit TaskGroup(Pool& pool) noexcept : pool_(&pool) {}
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;
  ~TaskGroup() { wait(); }

  // Spawns f() (allocates one task). On a member of this pool it goes onto
  // the member's deque, otherwise into the pool's shared queue (not bounded
  // by backpressure: a group's size is bounded by the code that spawns it).
  template <class F>
  void run(F&& f);

  void wait();
  [[nodiscard]] std::int64_t pending() const noexcept { return pending_.load(std::memory_order_acquire); }

 private:
  friend class Pool;
  void add(std::int64_t n) noexcept {
    exit_.store(0, std::memory_order_relaxed);  // the last completer sets it back
    pending_.fetch_add(n, std::memory_order_relaxed);
  }
  void done_one() noexcept;
  Pool* pool_;
  // SYNC(group-done): the last completer's acq_rel decrement publishes every
  // task's effects to the waiter's acquire load.
  alignas(kCacheLine) std::atomic<std::int64_t> pending_{0};
  WaitWord done_;                       // bumped by the last completer
  std::atomic<std::uint32_t> exit_{1};  // 0 while the last completer still touches us
};

// Remembers which member ran each chunk of a parallel_for, so the next frame
// sends each chunk back there (its data is still in that core's cache).
// Reuse one per loop site, never concurrently. It also owns the chunk
// storage, so a steady-state frame allocates nothing.
class AffinityPartitioner {
 public:
  AffinityPartitioner() = default;
  AffinityPartitioner(const AffinityPartitioner&) = delete;
  AffinityPartitioner& operator=(const AffinityPartitioner&) = delete;
  ~AffinityPartitioner();
  // Of the last completed parallel_for: chunks that ran where they were sent,
  // and chunks that a thief ran instead.
  [[nodiscard]] std::uint64_t last_hits() const noexcept { return hits_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t last_steals() const noexcept { return steals_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t total_hits() const noexcept { return total_hits_; }
  [[nodiscard]] std::uint64_t total_steals() const noexcept { return total_steals_; }
  // The member that ran chunk i last (kNone before the first frame).
  static constexpr std::uint32_t kNone = 0xffffffffu;
  [[nodiscard]] std::uint32_t last_member(std::size_t chunk) const noexcept;

 private:
  friend class Pool;
  friend class Member;
  struct Chunk;
  std::vector<std::unique_ptr<std::atomic<std::uint32_t>[]>> unused_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> last_;
  std::vector<Chunk*> chunks_;
  std::size_t n_ = 0;
  std::vector<std::uint32_t> active_;  // scratch of run_chunks, reused per frame
  std::vector<Task*> heads_;
  std::vector<Task*> tails_;
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> steals_{0};
  std::uint64_t total_hits_ = 0;
  std::uint64_t total_steals_ = 0;
};

enum class Overflow {
  kBlock,       // wait for room up to block_timeout, then reject
  kReject,      // refuse the new task; the caller keeps it
  kDropOldest,  // discard the oldest queued (not started) submitted task
  kDropNewest,  // accept-and-discard the new task (counted as dropped)
};

struct Backpressure {
  std::size_t max_in_flight = 0;  // 0 = unbounded
  Overflow policy = Overflow::kBlock;
  std::chrono::nanoseconds block_timeout{std::chrono::milliseconds(100)};
};

enum class SubmitStatus {
  kAccepted,       // queued
  kRejected,       // refused (kReject, or kBlock after its timeout); not run
  kDropped,        // kDropNewest (or kDropOldest with nothing droppable): not run
  kAcceptedDroppedOldest,  // queued; an older queued task was discarded
  kShutDown,       // the pool is stopping; not run, counted as rejected
};

// Exact accounting: submitted == completed + rejected + dropped + in_flight,
// read atomically together (one lock). The rest are sums of per-member counters.
struct PoolMetrics {
  std::uint64_t submitted = 0;
  std::uint64_t completed = 0;
  std::uint64_t rejected = 0;
  std::uint64_t dropped = 0;
  std::uint64_t in_flight = 0;   // accepted, not yet finished (queued or running)
  std::uint64_t queued = 0;      // of in_flight, not yet started
  std::uint64_t max_in_flight_seen = 0;
  std::uint64_t executed = 0;    // all tasks run, of any origin
  std::uint64_t steals = 0;
  std::uint64_t steal_attempts = 0;
  std::uint64_t parks = 0;
  std::uint64_t affinity_hits = 0;
  std::uint64_t affinity_steals = 0;
};

struct PoolConfig {
  std::string name = "pool";          // threads are named tp-<name>-<i> (15 chars max)
  std::vector<std::uint32_t> cpus;    // CPU of each own thread (plan order); empty: unpinned
  std::optional<std::size_t> threads; // own threads; default cpus.size() (>= 1 if cpus empty)
  std::size_t max_external = 0;       // member slots for threads that join()
  std::vector<std::uint32_t> external_cpus;  // CPU of each external slot; default: cpus
  const Topology* numa = nullptr;     // set: per-member state is NUMA-local (hwloc membind)
  std::optional<std::uint32_t> steal_attempts;  // per search; default 2 x members; 0: no stealing
  Backpressure backpressure;
  std::uint64_t seed = 0x9e3779b97f4a7c15ULL;
  // With no own threads, a non-member waiting on a TaskGroup/parallel_for
  // runs chunks itself by default. false: it only sleeps, and chunks run on
  // external members alone (the WASM compute pool: the frame loop must never
  // run a chunk natively in place of the kernel).
  bool caller_helps = true;

  // Threads and CPUs from a plan's pool (compute or render).
  [[nodiscard]] static PoolConfig from_plan(const PoolPlan& plan, std::size_t max_external = 0);
};

// A job handed to an external member by take(). run() executes its native
// body; for a parallel_for chunk a member may instead do the work itself
// from begin()/end() (a Node worker calling its WASM kernel). Either way
// hand it back with complete(), exactly once.
class Job {
 public:
  void run() { task_->execute(member_); }
  [[nodiscard]] bool is_chunk() const noexcept { return is_chunk_; }
  [[nodiscard]] std::size_t begin() const noexcept { return begin_; }
  [[nodiscard]] std::size_t end() const noexcept { return end_; }

 private:
  friend class Pool;
  friend class Member;
  Task* task_ = nullptr;
  std::uint32_t member_ = 0;
  bool is_chunk_ = false;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

// A joined external thread. Move-only; leave() (or the destructor) returns
// the slot and restores the thread's previous CPU affinity.
class Member {
 public:
  Member(Member&& other) noexcept;
  Member& operator=(Member&&) = delete;
  Member(const Member&) = delete;
  ~Member() { leave(); }

  // Next job: own inbox, own deque, shared queue, then stealing; parks on the
  // pool's futex until work arrives or `timeout` passes (nullopt), or the pool stops.
  [[nodiscard]] std::optional<Job> take(std::chrono::nanoseconds timeout);
  void complete(Job job);
  // Idempotent. Queued work left in this member's deque/inbox moves to the
  // pool's shared queue, so nothing is lost.
  void leave();
  [[nodiscard]] std::uint32_t index() const noexcept { return slot_; }
  [[nodiscard]] std::uint32_t cpu() const noexcept { return cpu_; }

 private:
  friend class Pool;
  Member(Pool* p, std::uint32_t slot, std::uint32_t cpu) noexcept : pool_(p), slot_(slot), cpu_(cpu) {}
  Pool* pool_;
  std::uint32_t slot_;
  std::uint32_t cpu_;
};

class Pool {
 public:
  // Starts the threads, pinned and named. Errors: zero members (no threads
  // and no external slots), a CPU outside this process's affinity mask, a
  // name too long for tp-<name>-<i>, or thread creation failure.
  [[nodiscard]] static Result<std::unique_ptr<Pool>> create(PoolConfig config);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  // Stops: runs everything already queued (nothing is dropped), joins the
  // threads. External members must have left.
  ~Pool();

  // Queues f() subject to backpressure (fire and forget; see metrics()).
  template <class F>
  SubmitStatus submit(F&& f);

  // body(begin, end) for each chunk of [begin, end) of at most `grain`
  // indices, in parallel; returns when all have run. With a partitioner each
  // chunk goes back to the member that ran it last time unless stolen.
  template <class Body>
  void parallel_for(std::size_t begin, std::size_t end, std::size_t grain, Body&& body,
                    AffinityPartitioner* partitioner = nullptr);

  // Makes the calling thread a member: pins it to its slot's CPU and gives it
  // a deque. Errors: no free slot, or pinning failed.
  [[nodiscard]] Result<Member> join();

  [[nodiscard]] PoolMetrics metrics() const;
  [[nodiscard]] std::size_t threads() const noexcept { return own_threads_; }
  [[nodiscard]] std::size_t members() const noexcept { return slots_.size(); }
  [[nodiscard]] const std::string& name() const noexcept { return config_.name; }
  // The member index of the calling thread in this pool, or nullopt.
  [[nodiscard]] std::optional<std::uint32_t> current_member() const noexcept;
  // OS thread ids of the own threads (for checking pinning in /proc).
  [[nodiscard]] std::vector<int> thread_ids() const;

  // Re-pinning (the adaptive core plan, docs/scheduler.md "Re-pinning"):
  // publishes `cpus` as the set every member may run on from now on, and
  // wakes parked members. Nothing blocks on it: each member (own thread or
  // joined external) re-pins itself the next time it looks for work, so a
  // running task is never interrupted. An empty set is refused (false).
  // Takes a lock and copies the set: call it between frames on a move, not
  // per frame. Any thread.
  bool repin(const CpuSet& cpus);
  // How many sets repin() has published (0: the members keep their creation CPUs).
  [[nodiscard]] std::uint64_t repin_epoch() const noexcept { return repin_epoch_.load(std::memory_order_relaxed); }

 private:
  friend class TaskGroup;
  friend class Member;
  struct Slot;
  using BodyFn = void (*)(void*, std::size_t, std::size_t);
  explicit Pool(PoolConfig config);

  SubmitStatus submit_task(Task* t);
  void spawn(Task* t);
  void run_chunks(std::size_t begin, std::size_t end, std::size_t grain, BodyFn fn, void* ctx,
                  AffinityPartitioner* partitioner);
  void worker_main(std::uint32_t slot);
  Task* find_work(std::uint32_t slot, bool outsider);
  bool work_visible(std::uint32_t slot) const;
  bool park(std::uint32_t slot, std::chrono::nanoseconds timeout);
  void execute(Task* t, std::uint32_t slot);
  void finish(Task* t, std::uint32_t slot);
  void notify(int count);
  void help_until_done(TaskGroup& g, std::optional<std::uint32_t> slot);
  void push_shared(Task* t);
  Task* pop_shared();
  void leave(std::uint32_t slot);
  // Applies a set repin() published since this member last looked (owner thread).
  void apply_repin(std::uint32_t slot);

  PoolConfig config_;
  std::size_t own_threads_ = 0;
  std::uint32_t steal_attempts_ = 0;
  std::vector<Slot*> slots_;
  std::vector<std::thread> threads_;
  std::unique_ptr<std::atomic<int>[]> tids_;
  // Parking: an event count. SYNC(park): see docs/scheduler.md "Parking".
  alignas(kCacheLine) WaitWord sleep_;
  std::atomic<bool> stopping_{false};
  // Shared queue: submitted tasks (FIFO, droppable) and spillover.
  struct Shared;
  std::unique_ptr<Shared> shared_;
  alignas(kCacheLine) std::atomic<std::uint64_t> shared_size_{0};
  WaitWord space_;  // bumped when a submitted task finishes, for blocked submitters
  // repin(): the published set, under repin_mu_; SYNC(repin): the epoch's
  // release increment after the set is stored pairs with members' acquire load.
  std::mutex repin_mu_;
  CpuSet repin_cpus_;
  alignas(kCacheLine) std::atomic<std::uint64_t> repin_epoch_{0};
};

namespace detail {
template <class F>
class FnTask final : public Task {
 public:
  explicit FnTask(F f) : f_(std::move(f)) {}
  void execute(std::uint32_t) override { f_(); }

 private:
  F f_;
};
}  // namespace detail

template <class F>
void TaskGroup::run(F&& f) {
  Task* t = detail::make_heap(new detail::FnTask<std::decay_t<F>>(std::forward<F>(f)), false);
  detail::set_group(t, this);
  add(1);
  pool_->spawn(t);
}

template <class F>
SubmitStatus Pool::submit(F&& f) {
  return submit_task(detail::make_heap(new detail::FnTask<std::decay_t<F>>(std::forward<F>(f)), true));
}

template <class Body>
void Pool::parallel_for(std::size_t begin, std::size_t end, std::size_t grain, Body&& body,
                        AffinityPartitioner* partitioner) {
  using B = std::remove_reference_t<Body>;
  BodyFn fn = [](void* ctx, std::size_t b, std::size_t e) { (*static_cast<B*>(ctx))(b, e); };
  run_chunks(begin, end, grain, fn, const_cast<void*>(static_cast<const void*>(&body)), partitioner);
}

}  // namespace triptych::sched
