// SPDX-License-Identifier: Apache-2.0
// SOCK_SEQPACKET messages with SCM_RIGHTS: see include/triptych/isolate/channel.hpp.
#include "triptych/isolate/channel.hpp"

#include "os_calls.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>

namespace triptych::isolate {

using detail::system_error;
Result<std::pair<Channel, Channel>> Channel::make_pair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return system_error("socketpair");
  return std::pair<Channel, Channel>(Channel(UniqueFd(sv[0])), Channel(UniqueFd(sv[1])));
}

Result<Channel> Channel::adopt(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    return system_error("fd " + std::to_string(fd) + " is not the host's socket");
  }
  if (type != SOCK_SEQPACKET) {
    return make_error(Errc::kInvalidArgument, "fd " + std::to_string(fd) + " is not a SOCK_SEQPACKET socket");
  }
  return Channel(UniqueFd(fd));
}

Result<void> Channel::send(std::span<const std::byte> bytes, std::span<const int> fds) {
  if (bytes.size() > kMaxMessageBytes || fds.size() > kMaxPassedFds) {
    return make_error(Errc::kInvalidArgument, "a channel message holds at most " + std::to_string(kMaxMessageBytes) +
                                                  " bytes and " + std::to_string(kMaxPassedFds) + " fds");
  }
  iovec iov{const_cast<std::byte*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)]{};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    if (::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL) >= 0) return {};
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET) return make_error(Errc::kPeerLost, "the other end of the channel is gone");
    return system_error("sendmsg");
  }
}

Result<Received> Channel::receive(std::chrono::steady_clock::time_point deadline) {
  Received out;
  out.bytes.resize(kMaxMessageBytes);
  std::array<UniqueFd, kMaxPassedFds> fds;
  auto got = receive_into(deadline, out.bytes, fds);
  if (!got) return got.error();
  out.bytes.resize(got.value().bytes);
  out.truncated = got.value().truncated;
  for (std::size_t i = 0; i < got.value().fds; ++i) out.fds.push_back(std::move(fds[i]));
  return out;
}

Result<ReceivedInto> Channel::receive_into(std::chrono::steady_clock::time_point deadline, std::span<std::byte> buffer,
                                           std::span<UniqueFd> fds) {
  const auto ready = detail::poll_until(fd_.get(), POLLIN, deadline, "the channel");
  if (!ready) return ready.error();
  if (!ready.value()) return make_error(Errc::kTimedOut, "no message before the deadline");
  iovec iov{buffer.data(), buffer.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)]{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t got = -1;
  do {
    got = ::recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  if (got < 0 && errno == ECONNRESET) return make_error(Errc::kPeerLost, "the other end of the channel is gone");
  if (got < 0) return system_error("recvmsg");
  if (got == 0) return make_error(Errc::kPeerLost, "the other end closed the channel");
  ReceivedInto out;
  out.bytes = static_cast<std::size_t>(got);
  out.truncated = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
  // Take ownership of every fd that arrived, even from a truncated message,
  // so none leaks whatever the caller decides.
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      UniqueFd owned(fd);
      if (out.fds < fds.size()) {
        fds[out.fds++] = std::move(owned);
      } else {
        out.truncated = true;  // closed here, as `owned` goes
      }
    }
  }
  return out;
}

}  // namespace triptych::isolate
