// SPDX-License-Identifier: Apache-2.0
// Certified peer death: the only way to obtain the CertifiedDeath token that
// TripleBuffer's recovery calls demand. A missed heartbeat, a stale counter
// or a futex timeout only *suspects* a peer; recovery against a peer that is
// merely slow would hand its slot to a replacement while it still writes. The
// kernel certifies a death in two ways: a pidfd (opened while the peer was
// known alive, so pid reuse cannot fool it) that polls readable, or
// waitpid(WNOHANG) reaping our own child. Each call is one non-blocking
// syscall; call from any thread, never from a hot path. Design: docs/sync.md
// ("Recovery").
#pragma once

#include <poll.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "triptych/core/result.hpp"

namespace triptych {

// Proof that a process has exited, made only by certify_exit() or
// reap_child() below. It names the process, not a role: the caller still
// has to know that this process was the one holding the role it recovers.
class CertifiedDeath {
 public:
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

 private:
  explicit CertifiedDeath(pid_t pid) noexcept : pid_(pid) {}
  friend Result<CertifiedDeath> certify_exit(int pidfd, pid_t pid) noexcept;
  friend Result<CertifiedDeath> reap_child(pid_t pid) noexcept;
  pid_t pid_;
};

// A pidfd for `pid` (pidfd_open). Open it while the peer is known alive (at
// the attach handshake); the caller owns and closes it. kSystem on failure
// (ESRCH: no such process; ENOSYS: kernel before 5.3).
[[nodiscard]] inline Result<int> open_pidfd(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
  const long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) return static_cast<int>(fd);
  return make_error(Errc::kSystem, "pidfd_open(" + std::to_string(pid) +
                                       "): " + std::strerror(errno));
#else
  return make_error(Errc::kUnsupported, "pidfd_open is not available on this system");
#endif
}

// Certifies that the process behind `pidfd` has exited: a pidfd polls
// readable exactly when its process has terminated. Does not block. `pid` is
// only recorded in the token. kStale while the process is still alive
// (suspected is not dead), kSystem if poll fails.
[[nodiscard]] inline Result<CertifiedDeath> certify_exit(int pidfd, pid_t pid) noexcept {
  pollfd p{pidfd, POLLIN, 0};
  const int n = poll(&p, 1, 0);
  if (n < 0) return make_error(Errc::kSystem, std::string("poll(pidfd): ") + std::strerror(errno));
  if (n == 1 && (p.revents & POLLIN) != 0) return CertifiedDeath(pid);
  if (n == 1 && (p.revents & POLLNVAL) != 0)
    return make_error(Errc::kInvalidArgument, "not a pidfd: " + std::to_string(pidfd));
  return make_error(Errc::kStale, "process " + std::to_string(pid) + " is still alive");
}

// Reaps our own child `pid` if it has exited or was killed (waitpid with
// WNOHANG). Does not block. kStale while it runs; kSystem if it is not our
// child or was already reaped (then nobody can certify it any more).
[[nodiscard]] inline Result<CertifiedDeath> reap_child(pid_t pid) noexcept {
  int status = 0;
  const pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == pid && (WIFEXITED(status) || WIFSIGNALED(status))) return CertifiedDeath(pid);
  if (r < 0) {
    return make_error(Errc::kSystem, "waitpid(" + std::to_string(pid) +
                                         "): " + std::strerror(errno));
  }
  return make_error(Errc::kStale, "child " + std::to_string(pid) + " is still alive");
}

}  // namespace triptych
