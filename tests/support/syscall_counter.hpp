// SPDX-License-Identifier: Apache-2.0
// Counts the shared FUTEX_WAKE syscalls a piece of code really makes, at the
// kernel boundary: a forked child installs a seccomp-bpf filter that traps
// futex(op == FUTEX_WAKE) with SECCOMP_RET_TRAP, its SIGSYS handler counts
// each trap and makes the call return 0 (the syscall itself is not run), and
// the child reports the count in its exit status. Only the shared, non-private
// op is trapped: triptych's futexes are shared, glibc's own are private, so
// the count is ours alone. Blocking (fork + waitpid); call from one thread.
// Used by tests/sync/futex_test.cpp; see docs/verification.md.
#pragma once

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace triptych::syscall_test {

#if defined(__x86_64__)
inline constexpr std::uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
inline constexpr std::uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "syscall_counter.hpp: add this architecture's AUDIT_ARCH and return register"
#endif

// Written only by the SIGSYS handler in the forked child; lock-free, so
// async-signal-safe. Relaxed: the child's own thread reads it after the
// handler returned on that same thread.
inline std::atomic<int> g_traps{0};
static_assert(std::atomic<int>::is_always_lock_free, "touched from a signal handler");

inline void on_sigsys(int, siginfo_t* info, void* ctx) noexcept {
  if (info->si_syscall != SYS_futex) return;
  g_traps.fetch_add(1, std::memory_order_relaxed);
  auto* uc = static_cast<ucontext_t*>(ctx);
#if defined(__x86_64__)
  uc->uc_mcontext.gregs[REG_RAX] = 0;  // "woke nobody"
#elif defined(__aarch64__)
  uc->uc_mcontext.regs[0] = 0;
#endif
}

// Child exit codes above any plausible count: the harness itself failed.
inline constexpr int kExitSigaction = 250;
inline constexpr int kExitNoNewPrivs = 251;
inline constexpr int kExitSeccomp = 252;
inline constexpr int kMaxCount = 200;

struct Counted {
  int wakes = -1;     // FUTEX_WAKE syscalls `fn` made; -1 if the harness failed
  std::string error;  // why, when wakes == -1
};

// Runs fn() in a forked child under the trap filter; fn must not need other
// threads (only the calling thread exists in the child).
template <class Fn>
[[nodiscard]] Counted count_shared_futex_wakes(Fn&& fn) {
  const pid_t child = fork();
  if (child < 0) return {-1, "fork failed"};
  if (child == 0) {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, nullptr) != 0) _exit(kExitSigaction);
    constexpr auto kArgOp = static_cast<std::uint32_t>(offsetof(seccomp_data, args) + sizeof(std::uint64_t));
    sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 0, 5),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kArgOp),  // low half of args[1], the op
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FUTEX_WAKE, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(kExitNoNewPrivs);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) _exit(kExitSeccomp);
    fn();
    const int n = g_traps.load(std::memory_order_relaxed);
    _exit(n < kMaxCount ? n : kMaxCount);
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child) return {-1, "waitpid failed"};
  if (!WIFEXITED(status)) return {-1, "child did not exit normally, status " + std::to_string(status)};
  const int code = WEXITSTATUS(status);
  if (code == kExitSigaction) return {-1, "sigaction(SIGSYS) failed"};
  if (code == kExitNoNewPrivs) return {-1, "prctl(PR_SET_NO_NEW_PRIVS) failed"};
  if (code == kExitSeccomp) return {-1, "seccomp filter refused (kernel without SECCOMP_FILTER?)"};
  return {code, {}};
}

}  // namespace triptych::syscall_test
