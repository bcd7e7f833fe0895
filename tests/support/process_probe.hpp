// SPDX-License-Identifier: Apache-2.0
// Leak checks for tests that spawn processes: this process's open fds, and
// whether any child (running or a zombie) is left. Test thread only.
#pragma once

#include <dirent.h>
#include <sys/wait.h>

#include <cerrno>

namespace triptych::test {

inline int open_fd_count() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

// True when this process has no child left, exited or running (no zombie).
inline bool no_children() {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD;
}

}  // namespace triptych::test
