// SPDX-License-Identifier: Apache-2.0
// Watches one render process at a time from a thread of its own, event
// driven: epoll over the child's pidfd (death is pushed), its channel's
// hang-up (a second death signal) and a timerfd that pulls the child's
// progress word (no change for hang_timeout: SIGKILL through the pidfd).
// On a death it reaps the child, counts it, calls on_lost, then bumps the
// host-private epoch word and wakes every waiter on it (so a waiter that sees
// the epoch move sees the loss reported). The supervisor
// thread alone reaps; watch()/stop() come from one owner thread.
// Design: docs/isolation.md, "Supervisor".
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "triptych/core/result.hpp"
#include "triptych/isolate/child_process.hpp"
#include "triptych/isolate/unique_fd.hpp"
#include "triptych/sync/futex.hpp"

namespace triptych::isolate {

// Why a watched child is gone.
struct ChildLoss {
  std::uint64_t epoch = 0;
  ChildExit exit;
  bool hang_killed = false;  // the supervisor killed it for making no progress
  std::chrono::steady_clock::time_point seen;  // when the supervisor saw the death
};

struct SupervisorCounters {
  std::uint64_t deaths = 0;
  std::uint64_t hangs_killed = 0;
  std::array<std::uint64_t, 65> by_signal{};  // deaths by signal number
  std::uint64_t exits = 0;                    // deaths by exit(), any status
};

class Supervisor {
 public:
  struct Config {
    std::chrono::nanoseconds hang_timeout = std::chrono::milliseconds(500);
    std::function<void(const ChildLoss&)> on_lost;  // on the supervisor thread
  };
  [[nodiscard]] static Result<std::unique_ptr<Supervisor>> create(Config config);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Takes the child to watch in `epoch`; its progress word is read (relaxed:
  // only a change matters, and it is hostile memory) every min(hang_timeout
  // / 8, 20 ms).
  // kInvalidArgument while another child is watched.
  [[nodiscard]] Result<void> watch(ChildProcess child, int channel_fd, const std::atomic<std::uint64_t>* progress,
                                   std::uint64_t epoch);
  // True while a watched child has not been seen to die.
  [[nodiscard]] bool watching() const noexcept;
  // The host-private word every cross-process wait also watches: bumped
  // once per death (SYNC(peer-epoch)).
  [[nodiscard]] WaitWord& epoch_word() noexcept { return epoch_word_; }
  // Deaths so far, as the epoch word counts them.
  [[nodiscard]] std::uint32_t deaths_seen() const noexcept {
    // SYNC(peer-epoch): acquire pairs with lose_child's bump: a caller that
    // sees it also sees the child as no longer watched.
    return epoch_word_.value.load(std::memory_order_acquire);
  }
  [[nodiscard]] SupervisorCounters counters() const;
  // SIGKILL to the watched child (one that missed a deadline); its pidfd
  // then reports the death like any other. Nothing when none is watched.
  void kill_watched() noexcept;
  // Stops the thread; a child still watched is killed and reaped.
  void stop() noexcept;

 private:
  explicit Supervisor(Config config) noexcept : cfg_(std::move(config)) {}
  void run();
  void check_progress();
  void lose_child(bool hang_killed);

  Config cfg_;
  UniqueFd epoll_, timer_, stop_event_;
  std::thread thread_;
  mutable std::mutex mu_;  // guards the watched child and the counters (not the hot path: one death at a time)
  ChildProcess child_ = ChildProcess::none();
  int channel_fd_ = -1;
  const std::atomic<std::uint64_t>* progress_ = nullptr;
  std::uint64_t epoch_ = 0;
  std::uint64_t last_progress_ = 0;
  std::chrono::steady_clock::time_point last_change_;
  bool watching_ = false;
  SupervisorCounters counters_;
  WaitWord epoch_word_;
};

}  // namespace triptych::isolate
