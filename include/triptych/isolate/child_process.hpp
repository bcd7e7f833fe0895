// SPDX-License-Identifier: Apache-2.0
// A child process spawned with posix_spawn + exec (never fork() of the host:
// a forked Node or Vulkan process inherits threads it cannot run) and held
// by a pidfd, so its death is an event (the pidfd becomes readable) and a
// signal can never reach a recycled pid. Blocking calls name their deadline.
// One owner thread at a time; the destructor kills and reaps.
// Design: docs/isolation.md.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "triptych/core/result.hpp"
#include "triptych/isolate/unique_fd.hpp"

namespace triptych::isolate {

struct SpawnSpec {
  std::string path;               // the executable; exec'd, never searched on PATH
  std::vector<std::string> args;  // argv[1..]
  // Handed to the child as fds 3, 4, ... in this order; every other fd of
  // the host stays closed there (the host opens its fds close-on-exec).
  std::vector<int> pass_fds;
};

// How a child ended.
struct ChildExit {
  bool signaled = false;  // killed by `code` (a signal number); else exited with status `code`
  int code = 0;
};

class ChildProcess {
 public:
  [[nodiscard]] static Result<ChildProcess> spawn(const SpawnSpec& spec);
  // No process: a placeholder to move a real one into.
  [[nodiscard]] static ChildProcess none() noexcept { return ChildProcess(-1, UniqueFd()); }

  ChildProcess(ChildProcess&&) noexcept = default;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  // Readable once the child has exited (for epoll); -1 after reap().
  [[nodiscard]] int pidfd() const noexcept { return pidfd_.get(); }
  [[nodiscard]] bool reaped() const noexcept { return !pidfd_.valid(); }

  // pidfd_send_signal: reaches this child or nobody. Sending to a child that
  // has exited but is not reaped yet succeeds and does nothing.
  [[nodiscard]] Result<void> signal(int signo) const;
  // Waits up to `timeout` for the exit, then reaps it (no zombie is left).
  // kTimedOut while it still runs.
  [[nodiscard]] Result<ChildExit> reap(std::chrono::nanoseconds timeout);
  // SIGKILL and reap; what the destructor does. Idempotent.
  void kill_and_reap() noexcept;

 private:
  ChildProcess(pid_t pid, UniqueFd pidfd) noexcept : pid_(pid), pidfd_(std::move(pidfd)) {}
  pid_t pid_ = -1;
  UniqueFd pidfd_;
};

// "SIGKILL", "exit status 3": for messages and reports.
[[nodiscard]] std::string describe(const ChildExit& exit);

}  // namespace triptych::isolate
