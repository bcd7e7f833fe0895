// SPDX-License-Identifier: Apache-2.0
// The render process's sandbox, entered once Vulkan is initialised (the
// driver opens its files and devices first): no_new_privs; a Landlock
// ruleset that allows no file-system access at all, where the kernel has
// Landlock; and a seccomp filter that refuses (EPERM) every call one process
// can use to reach into another or out of its box: ptrace,
// process_vm_readv/writev, pidfd_open/pidfd_getfd, kcmp, open_by_handle_at,
// perf_event_open, bpf, mount and namespace calls, keyrings, kexec, reboot.
// A same-user child could otherwise reopen the host's fds through
// /proc/<host>/fd or take them with pidfd_getfd. Irreversible; call once,
// on the child's main thread, before its other threads start if possible
// (seccomp filters are inherited only by threads created later, so the
// filter is installed with TSYNC onto every existing thread).
// Design: docs/isolation.md, "Sandbox".
#pragma once

#include <string>

#include "triptych/core/result.hpp"

namespace triptych::isolate {

struct SandboxReport {
  bool landlock = false;  // false: the kernel has no Landlock (the seccomp filter still holds)
  int landlock_abi = 0;
  std::string note;       // what was not applied, and why
};

[[nodiscard]] Result<SandboxReport> enter_render_sandbox();

}  // namespace triptych::isolate
