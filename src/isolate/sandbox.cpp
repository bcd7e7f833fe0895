// SPDX-License-Identifier: Apache-2.0
// The render process's sandbox: see include/triptych/isolate/sandbox.hpp.
#include "triptych/isolate/sandbox.hpp"

#include <linux/landlock.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "os_calls.hpp"

// Debian 12's headers stop at Landlock ABI 2; the kernel may speak more.
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

namespace triptych::isolate {

using detail::system_error;

namespace {

// Calls that reach another process or leave the box. Each is refused with
// EPERM, so a caller sees a plain failure rather than a kill.
constexpr std::array kRefused = {
    "ptrace",          "process_vm_readv", "process_vm_writev", "pidfd_open",   "pidfd_getfd",
    "kcmp",            "open_by_handle_at", "name_to_handle_at", "perf_event_open", "bpf",
    "mount",           "umount2",          "pivot_root",         "chroot",       "unshare",
    "setns",           "keyctl",           "add_key",            "request_key",  "kexec_load",
    "kexec_file_load", "reboot",           "init_module",        "finit_module", "delete_module",
    "swapon",          "swapoff",          "userfaultfd",        "fsopen",       "fsmount",
    "move_mount",      "open_tree",
};

Result<void> install_seccomp() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return make_error(Errc::kSystem, "seccomp_init failed");
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  for (const char* name : kRefused) {
    if (rc != 0) break;
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
  }
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) return make_error(Errc::kSystem, std::string("seccomp filter: ") + std::strerror(-rc));
  return {};
}

// A ruleset that handles every file-system right the ABI knows and allows
// none of them: after this no path can be opened, /proc/<host>/fd included.
Result<SandboxReport> install_landlock(SandboxReport report) {
  const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 0) {
    report.note = std::string("Landlock unavailable (") + std::strerror(errno) + "): no file-system rule; the seccomp filter holds";
    return report;
  }
  landlock_ruleset_attr attr{};
  attr.handled_access_fs = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
                           LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                           LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
                           LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
                           LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
  if (abi >= 2) attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3) attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
  const long fd = ::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
  if (fd < 0) return system_error("landlock_create_ruleset");
  const long rc = ::syscall(SYS_landlock_restrict_self, fd, 0);
  ::close(static_cast<int>(fd));
  if (rc != 0) return system_error("landlock_restrict_self");
  report.landlock = true;
  report.landlock_abi = static_cast<int>(abi);
  return report;
}

}  // namespace

Result<SandboxReport> enter_render_sandbox() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return system_error("PR_SET_NO_NEW_PRIVS");
  auto report = install_landlock(SandboxReport{});
  if (!report) return report.error();
  if (auto ok = install_seccomp(); !ok) return ok.error();
  return report;
}

}  // namespace triptych::isolate
