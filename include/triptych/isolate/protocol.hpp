// SPDX-License-Identifier: Apache-2.0
// The messages between the host and the render process, and the handshake
// that starts every session: HELLO (child -> host: protocol version, build
// id) -> ATTACH (host -> child: epoch, memory sizes, the H and C memfds by
// SCM_RIGHTS) -> READY (child -> host: the epoch back). Every step has a
// deadline. Each message is a fixed-size record that opens with magic,
// version and kind; a receiver decodes a copy of the bytes, checks every
// field, and never uses a byte it did not check. The host refuses any fd a
// child sends. Design: docs/isolation.md, "Handshake".
#pragma once

#include <chrono>
#include <cstdint>
#include <type_traits>

#include "triptych/core/result.hpp"
#include "triptych/isolate/channel.hpp"
#include "triptych/isolate/split_memory.hpp"

namespace triptych::isolate {

inline constexpr std::uint32_t kMessageMagic = 0x49525054;  // "TPRI" little-endian
inline constexpr std::uint16_t kProtocolVersion = 1;

enum class MessageKind : std::uint16_t {
  kHello = 1,
  kAttach = 2,
  kReady = 3,
};

struct MessageHeader {
  std::uint32_t magic = kMessageMagic;
  std::uint16_t version = kProtocolVersion;
  std::uint16_t kind = 0;
  std::uint32_t bytes = 0;  // the whole message, header included
  std::uint32_t reserved = 0;
};
static_assert(sizeof(MessageHeader) == 16 && std::is_trivially_copyable_v<MessageHeader>);

struct HelloMessage {
  MessageHeader header{kMessageMagic, kProtocolVersion, static_cast<std::uint16_t>(MessageKind::kHello),
                       sizeof(HelloMessage), 0};
  std::uint64_t build_id = 0;  // kBuildId of the child's binary: host and child must be one build
  std::uint32_t pid = 0;
  std::uint32_t reserved = 0;
};
static_assert(sizeof(HelloMessage) == 32 && std::is_trivially_copyable_v<HelloMessage>);

struct AttachMessage {
  MessageHeader header{kMessageMagic, kProtocolVersion, static_cast<std::uint16_t>(MessageKind::kAttach),
                       sizeof(AttachMessage), 0};
  std::uint64_t epoch = 0;        // this session; every later message names it
  std::uint64_t host_bytes = 0;   // size of H, mapped first
  std::uint64_t child_bytes = 0;  // size of C, mapped right after H
  std::uint64_t progress_offset = 0;  // of the child's progress word, from C's start, 8-aligned
};
static_assert(sizeof(AttachMessage) == 48 && std::is_trivially_copyable_v<AttachMessage>);

struct ReadyMessage {
  MessageHeader header{kMessageMagic, kProtocolVersion, static_cast<std::uint16_t>(MessageKind::kReady),
                       sizeof(ReadyMessage), 0};
  std::uint64_t epoch = 0;
};
static_assert(sizeof(ReadyMessage) == 24 && std::is_trivially_copyable_v<ReadyMessage>);

// This binary's build: host and child are refused unless they match.
[[nodiscard]] std::uint64_t build_id() noexcept;

// The host's side. kPeerLost for a protocol violation (the message says
// which), kTimedOut past the deadline. On success the child has mapped
// both memories and stands ready in `epoch`.
struct HostHandshake {
  std::uint64_t epoch = 0;
  std::uint64_t progress_offset = 0;
  std::chrono::steady_clock::time_point deadline;
};
[[nodiscard]] Result<void> host_handshake(Channel& channel, const SplitMemory& memory, const HostHandshake& how);

// The child's side: HELLO, then ATTACH's memories mapped (H read-only), READY.
struct ChildSession {
  std::uint64_t epoch = 0;
  std::uint64_t progress_offset = 0;
  SplitMemory memory;
};
[[nodiscard]] Result<ChildSession> child_handshake(Channel& channel, std::chrono::steady_clock::time_point deadline);

}  // namespace triptych::isolate
