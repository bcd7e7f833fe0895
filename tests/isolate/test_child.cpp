// SPDX-License-Identifier: Apache-2.0
// The render process stand-in for the isolate tests: the real child's first
// steps (bind_to_host, the handshake, a progress word), then one behaviour
// per mode, good or hostile. argv: MODE HOST_PID; fd 3 is the channel.
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "triptych/isolate/channel.hpp"
#include "triptych/isolate/child_process.hpp"
#include "triptych/isolate/child_side.hpp"
#include "triptych/isolate/protocol.hpp"
#include "triptych/isolate/sandbox.hpp"

using namespace triptych;
using namespace triptych::isolate;
using namespace std::chrono_literals;

namespace {

std::span<const std::byte> as_bytes(const std::string& s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }

// Bumps the progress word every millisecond until the host hangs up.
int serve(Channel& channel, ChildSession& session) {
  auto* word = reinterpret_cast<std::atomic<std::uint64_t>*>(session.memory.child().data() + session.progress_offset);
  for (std::uint64_t n = 1;; ++n) {
    word->store(n, std::memory_order_relaxed);  // only its change matters to the host
    pollfd p{channel.fd(), POLLRDHUP, 0};
    if (::poll(&p, 1, 1) > 0) return 0;
  }
}

std::string errno_name(int rc) { return rc == 0 ? "OK" : strerrorname_np(errno); }

// Every way to write or resize H, and to resize C or punch holes in either,
// with what each returned.
std::string probe_seals(ChildSession& session) {
  const int h = session.memory.host_fd();
  const int c = session.memory.child_fd();
  const std::size_t hb = session.memory.host().size();
  std::string out;
  out += "ftruncate_h=" + errno_name(::ftruncate(h, static_cast<off_t>(hb / 2)));
  out += " grow_h=" + errno_name(::ftruncate(h, static_cast<off_t>(hb * 2)));
  out += " ftruncate_c=" + errno_name(::ftruncate(c, 0));
  void* w = ::mmap(nullptr, hb, PROT_READ | PROT_WRITE, MAP_SHARED, h, 0);
  out += " mmap_write_h=" + errno_name(w == MAP_FAILED ? -1 : 0);
  if (w != MAP_FAILED) ::munmap(w, hb);
  const char byte = 'x';
  out += " write_h=" + errno_name(::pwrite(h, &byte, 1, 0) == 1 ? 0 : -1);
  out += " unseal_h=" + errno_name(::fcntl(h, F_ADD_SEALS, F_SEAL_WRITE));
  out += " mprotect_h=" + errno_name(::mprotect(session.memory.host().data(), hb, PROT_READ | PROT_WRITE));
  // A hole punched keeps the size: H's write seal refuses it, C's seals allow
  // it (its pages then read as zeros on both sides, with no SIGBUS).
  const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  const auto page = static_cast<off_t>(::sysconf(_SC_PAGESIZE));
  out += " punch_h=" + errno_name(::fallocate(h, punch, 0, page));
  out += " punch_c=" + errno_name(::fallocate(c, punch, page, page));
  return out;
}

// Every way out of the sandbox this child knows, with what each returned.
std::string probe_sandbox(pid_t host) {
  auto report = enter_render_sandbox();
  if (!report) return "sandbox failed: " + report.error().what();
  std::string out = std::string("landlock=") + (report.value().landlock ? "1" : "0");
  const std::string host_fd = "/proc/" + std::to_string(host) + "/fd/0";
  const int fd = ::open(host_fd.c_str(), O_RDONLY);
  out += " open_host_fd=" + errno_name(fd < 0 ? -1 : 0);
  if (fd >= 0) ::close(fd);
  const int file = ::open("/etc/hostname", O_RDONLY);
  out += " open_file=" + errno_name(file < 0 ? -1 : 0);
  if (file >= 0) ::close(file);
  const long pidfd = ::syscall(SYS_pidfd_open, host, 0);
  out += " pidfd_open=" + errno_name(pidfd < 0 ? -1 : 0);
  out += " ptrace=" + errno_name(static_cast<int>(::ptrace(PTRACE_ATTACH, host, nullptr, nullptr)));
  char byte = 0;
  iovec local{&byte, 1};
  iovec remote{reinterpret_cast<void*>(0x1000), 1};
  out += " vm_read=" + errno_name(::process_vm_readv(host, &local, 1, &remote, 1, 0) < 0 ? -1 : 0);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return 64;
  const std::string mode = argv[1];
  const pid_t host = static_cast<pid_t>(std::atoi(argv[2]));
  if (mode == "orphan") {  // a grandchild: bound to the "middle" process, then idle
    if (!bind_to_host(host)) return 65;
    for (;;) ::pause();
  }
  auto channel = Channel::adopt(3);
  if (!channel) return 66;
  if (!bind_to_host(host)) return 65;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  if (mode == "silent") {
    for (;;) ::pause();
  }
  if (mode == "bad-version") {
    HelloMessage hello;
    hello.header.version = 99;
    hello.build_id = build_id();
    (void)channel.value().send({reinterpret_cast<const std::byte*>(&hello), sizeof hello});
    for (;;) ::pause();
  }
  if (mode == "send-fd") {
    HelloMessage hello;
    hello.build_id = build_id();
    const int fds[1] = {0};
    (void)channel.value().send({reinterpret_cast<const std::byte*>(&hello), sizeof hello}, fds);
    for (;;) ::pause();
  }
  if (mode == "middle") {  // spawns an orphan-to-be, says its pid, then waits to be killed
    SpawnSpec spec;
    spec.path = "/proc/self/exe";
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 67;
    spec.path.assign(self, static_cast<std::size_t>(n));
    spec.args = {"orphan", std::to_string(::getpid())};
    auto grandchild = ChildProcess::spawn(spec);
    if (!grandchild) return 68;
    (void)channel.value().send(as_bytes(std::to_string(grandchild.value().pid())));
    for (;;) ::pause();
  }
  auto session = child_handshake(channel.value(), deadline);
  if (!session) return 69;
  if (mode == "seal-probe") (void)channel.value().send(as_bytes(probe_seals(session.value())));
  if (mode == "sandbox-probe") (void)channel.value().send(as_bytes(probe_sandbox(host)));
  if (mode == "serve" || mode == "seal-probe" || mode == "sandbox-probe") return serve(channel.value(), session.value());
  return 70;
}
