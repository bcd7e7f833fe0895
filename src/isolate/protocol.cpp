// SPDX-License-Identifier: Apache-2.0
// The handshake: see include/triptych/isolate/protocol.hpp.
#include "triptych/isolate/protocol.hpp"

#include <unistd.h>

#include <cstring>
#include <string>

namespace triptych::isolate {
namespace {

Error violation(const std::string& what) { return make_error(Errc::kPeerLost, "protocol violation: " + what); }

template <class T>
std::span<const std::byte> bytes_of(const T& message) {
  return {reinterpret_cast<const std::byte*>(&message), sizeof message};
}

// Receives one message of type T, kind `kind`, into a checked copy.
// `fds_expected` fds must come with it; any other count is a violation.
template <class T>
Result<T> receive_message(Channel& channel, MessageKind kind, std::size_t fds_expected,
                          std::chrono::steady_clock::time_point deadline, std::vector<UniqueFd>* fds_out) {
  auto got = channel.receive(deadline);
  if (!got) return got.error();
  Received& r = got.value();
  const char* name = kind == MessageKind::kHello ? "HELLO" : kind == MessageKind::kAttach ? "ATTACH" : "READY";
  if (r.fds.size() != fds_expected) {
    return violation(std::string(name) + " came with " + std::to_string(r.fds.size()) + " fds, expected " +
                     std::to_string(fds_expected) + " (refused and closed)");
  }
  if (r.truncated || r.bytes.size() != sizeof(T)) {
    return violation(std::string(name) + " of " + std::to_string(r.bytes.size()) + " bytes, expected " +
                     std::to_string(sizeof(T)));
  }
  T m;
  std::memcpy(&m, r.bytes.data(), sizeof m);
  if (m.header.magic != kMessageMagic) return violation(std::string(name) + " has bad magic");
  if (m.header.version != kProtocolVersion) {
    return make_error(Errc::kBadVersion, std::string(name) + " speaks protocol " + std::to_string(m.header.version) +
                                             ", this build speaks " + std::to_string(kProtocolVersion));
  }
  if (m.header.kind != static_cast<std::uint16_t>(kind) || m.header.bytes != sizeof(T)) {
    return violation(std::string("expected ") + name + ", got kind " + std::to_string(m.header.kind));
  }
  if (fds_out != nullptr) *fds_out = std::move(r.fds);
  return m;
}

}  // namespace

std::uint64_t build_id() noexcept {
  // The compile time of this file and the protocol version: one build, one id.
  std::uint64_t h = 1469598103934665603ULL;
  for (const char c : std::string_view(__DATE__ " " __TIME__)) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h ^ kProtocolVersion;
}

Result<void> host_handshake(Channel& channel, const SplitMemory& memory, const HostHandshake& how) {
  auto hello = receive_message<HelloMessage>(channel, MessageKind::kHello, 0, how.deadline, nullptr);
  if (!hello) return hello.error();
  if (hello.value().build_id != build_id()) {
    return make_error(Errc::kBadVersion, "the render process is another build (id " +
                                             std::to_string(hello.value().build_id) + ", host " +
                                             std::to_string(build_id()) + ")");
  }
  AttachMessage attach;
  attach.epoch = how.epoch;
  attach.host_bytes = memory.host().size();
  attach.child_bytes = memory.child().size();
  attach.progress_offset = how.progress_offset;
  const int fds[2] = {memory.host_fd(), memory.child_fd()};
  if (auto ok = channel.send(bytes_of(attach), fds); !ok) return ok.error();
  auto ready = receive_message<ReadyMessage>(channel, MessageKind::kReady, 0, how.deadline, nullptr);
  if (!ready) return ready.error();
  if (ready.value().epoch != how.epoch) {
    return violation("READY names epoch " + std::to_string(ready.value().epoch) + ", not " + std::to_string(how.epoch));
  }
  return {};
}

Result<ChildSession> child_handshake(Channel& channel, std::chrono::steady_clock::time_point deadline) {
  HelloMessage hello;
  hello.build_id = build_id();
  hello.pid = static_cast<std::uint32_t>(::getpid());
  if (auto ok = channel.send(bytes_of(hello)); !ok) return ok.error();
  std::vector<UniqueFd> fds;
  auto attach = receive_message<AttachMessage>(channel, MessageKind::kAttach, 2, deadline, &fds);
  if (!attach) return attach.error();
  const AttachMessage a = attach.value();
  if (a.progress_offset % 8 != 0 || a.progress_offset + 8 > a.child_bytes) {
    return violation("ATTACH puts the progress word at " + std::to_string(a.progress_offset) + ", outside C");
  }
  auto memory = SplitMemory::attach(fds[0].get(), fds[1].get(), a.host_bytes, a.child_bytes);
  if (!memory) return memory.error();
  (void)fds[0].release();  // the mapping owns them now
  (void)fds[1].release();
  ReadyMessage ready;
  ready.epoch = a.epoch;
  if (auto ok = channel.send(bytes_of(ready)); !ok) return ok.error();
  return ChildSession{a.epoch, a.progress_offset, std::move(memory).value()};
}

}  // namespace triptych::isolate
