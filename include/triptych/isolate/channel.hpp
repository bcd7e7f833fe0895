// SPDX-License-Identifier: Apache-2.0
// One end of a SOCK_SEQPACKET socketpair between the host and a child:
// whole messages (never split or merged), optional fds by SCM_RIGHTS, and a
// hang-up the moment the other process dies (a second death signal beside
// the pidfd). Every receive names its deadline. One thread per end at a time.
// Design: docs/isolation.md, "Handshake".
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "triptych/core/result.hpp"
#include "triptych/isolate/unique_fd.hpp"

namespace triptych::isolate {

inline constexpr std::size_t kMaxMessageBytes = 4096;
inline constexpr std::size_t kMaxPassedFds = 8;

struct Received {
  std::vector<std::byte> bytes;  // the message as it came; the caller validates a copy
  std::vector<UniqueFd> fds;     // owned: closed unless the caller keeps them
  bool truncated = false;        // longer than kMaxMessageBytes, or more fds than kMaxPassedFds
};

// What receive_into put into the caller's buffers.
struct ReceivedInto {
  std::size_t bytes = 0;   // of the message, in the caller's buffer
  std::size_t fds = 0;     // in the caller's fd array, owned by it
  bool truncated = false;  // longer than the buffer, or more fds than the array (the extra fds are closed)
};

class Channel {
 public:
  Channel() noexcept = default;  // closed
  // Both ends, close-on-exec; pass one end's fd to the child (SpawnSpec::pass_fds).
  [[nodiscard]] static Result<std::pair<Channel, Channel>> make_pair();
  // The child's end, from the fd it was handed; checked to be a SEQPACKET socket.
  [[nodiscard]] static Result<Channel> adopt(int fd);

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  void close() noexcept { fd_.reset(); }

  // kPeerLost when the other end is gone (EPIPE / ECONNRESET).
  [[nodiscard]] Result<void> send(std::span<const std::byte> bytes, std::span<const int> fds = {});
  // kTimedOut at the deadline; kPeerLost on hang-up (the peer closed or died).
  // Allocates the message it returns: for the handshake, not a frame.
  [[nodiscard]] Result<Received> receive(std::chrono::steady_clock::time_point deadline);
  // The same into the caller's buffers, without allocating on success (a
  // frame's path): at most `buffer.size()` bytes and `fds.size()` fds
  // (at most kMaxPassedFds); the fds it stores are the caller's to keep or
  // close, any beyond them are closed and the message marked truncated.
  [[nodiscard]] Result<ReceivedInto> receive_into(std::chrono::steady_clock::time_point deadline,
                                                  std::span<std::byte> buffer, std::span<UniqueFd> fds);

 private:
  explicit Channel(UniqueFd fd) noexcept : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace triptych::isolate
