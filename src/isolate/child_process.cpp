// SPDX-License-Identifier: Apache-2.0
// posix_spawn + pidfd: see include/triptych/isolate/child_process.hpp.
#include "triptych/isolate/child_process.hpp"

#include "os_calls.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace triptych::isolate {

using detail::system_error;
namespace {

// RAII for posix_spawn's attribute objects.
struct SpawnActions {
  posix_spawn_file_actions_t actions{};
  SpawnActions() { posix_spawn_file_actions_init(&actions); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
};

struct SpawnAttributes {
  posix_spawnattr_t attributes{};
  SpawnAttributes() { posix_spawnattr_init(&attributes); }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attributes); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
};

}  // namespace

Result<ChildProcess> ChildProcess::spawn(const SpawnSpec& spec) {
  if (spec.path.empty() || spec.path.front() != '/') {
    return make_error(Errc::kInvalidArgument, "spawn needs an absolute executable path, got '" + spec.path + "'");
  }
  SpawnActions fa;
  // Two steps, so a source fd numbered 3.. is never overwritten before it is
  // copied: first dup each above the target range, then into place.
  const int base = 3;
  int scratch = base + static_cast<int>(spec.pass_fds.size());
  for (const int fd : spec.pass_fds) {
    if (fd < 0) return make_error(Errc::kInvalidArgument, "spawn: pass_fds holds a closed fd");
    scratch = std::max(scratch, fd + 1);
  }
  for (std::size_t i = 0; i < spec.pass_fds.size(); ++i) {
    posix_spawn_file_actions_adddup2(&fa.actions, spec.pass_fds[i], scratch + static_cast<int>(i));
  }
  for (std::size_t i = 0; i < spec.pass_fds.size(); ++i) {
    posix_spawn_file_actions_adddup2(&fa.actions, scratch + static_cast<int>(i), base + static_cast<int>(i));
    posix_spawn_file_actions_addclose(&fa.actions, scratch + static_cast<int>(i));
  }
  SpawnAttributes sa;
  // The child starts with default dispositions and an empty mask, whatever
  // the host (Node, a test runner) blocks or ignores.
  sigset_t all;
  sigset_t none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&sa.attributes, &all);
  posix_spawnattr_setsigmask(&sa.attributes, &none);
  posix_spawnattr_setflags(&sa.attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(spec.path.c_str()));
  for (const auto& a : spec.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (const int rc = posix_spawn(&pid, spec.path.c_str(), &fa.actions, &sa.attributes, argv.data(), environ);
      rc != 0) {
    errno = rc;
    return system_error("cannot spawn " + spec.path);
  }
  // Only this object reaps the pid, so it cannot be recycled before this.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const Error e = system_error("pidfd_open (Linux 5.3+)");
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return e;
  }
  ::fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  return ChildProcess(pid, UniqueFd(pidfd));
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
  }
  return *this;
}

ChildProcess::~ChildProcess() { kill_and_reap(); }

Result<void> ChildProcess::signal(int signo) const {
  if (!pidfd_.valid()) return make_error(Errc::kInvalidArgument, "the child was already reaped");
  if (::syscall(SYS_pidfd_send_signal, pidfd_.get(), signo, nullptr, 0) != 0) {
    if (errno == ESRCH) return {};  // exited, not reaped yet: nothing to signal
    return system_error("pidfd_send_signal");
  }
  return {};
}

Result<ChildExit> ChildProcess::reap(std::chrono::nanoseconds timeout) {
  if (!pidfd_.valid()) return make_error(Errc::kInvalidArgument, "the child was already reaped");
  const auto exited = detail::poll_until(pidfd_.get(), POLLIN, std::chrono::steady_clock::now() + timeout, "a pidfd");
  if (!exited) return exited.error();
  if (!exited.value()) {
    return make_error(Errc::kTimedOut, "child " + std::to_string(pid_) + " still runs after " +
                                           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) + " ms");
  }
  siginfo_t info{};
  while (::waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED) != 0) {
    if (errno != EINTR) return system_error("waitid on a pidfd");
  }
  pidfd_.reset();
  ChildExit exit;
  exit.signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  exit.code = info.si_status;
  return exit;
}

void ChildProcess::kill_and_reap() noexcept {
  if (!pidfd_.valid()) return;
  (void)signal(SIGKILL);
  (void)reap(std::chrono::seconds(10));
}

std::string describe(const ChildExit& exit) {
  if (!exit.signaled) return "exit status " + std::to_string(exit.code);
  const char* name = sigabbrev_np(exit.code);
  return name != nullptr ? std::string("SIG") + name : "signal " + std::to_string(exit.code);
}

}  // namespace triptych::isolate
