// SPDX-License-Identifier: Apache-2.0
// The host alone owns slots. It grants the render process one frame at a
// time, RENDER{epoch, frame, compute slot, layout slot, result slot,
// generation}; the child answers DONE{the same} after its GPU fence. The
// host accepts a DONE only for a grant of the current epoch that is still
// open, with every field matching; anything else is a counted protocol
// violation and changes nothing. When the child dies, every open grant is
// handed back as lost to the crash (so the frame accounting stays exact),
// and their result slots stay quarantined until the child's exit is
// confirmed (its GPU work could still be writing them).
// Single-threaded: the host's session thread owns it. Design:
// docs/isolation.md, "Grants"; SPIN model: models/grants.
#pragma once

#include <array>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "triptych/core/result.hpp"
#include "triptych/isolate/protocol.hpp"

namespace triptych::isolate {

inline constexpr std::uint32_t kSlotsPerKind = 3;  // compute, layout and result triple buffers
inline constexpr std::uint32_t kMaxOpenGrants = 3;

struct RenderGrant {
  std::uint64_t epoch = 0;
  std::uint64_t frame = 0;
  std::uint32_t compute_slot = 0;
  std::uint32_t layout_slot = 0;
  std::uint32_t result_slot = 0;
  std::uint32_t generation = 0;  // of this grant; the next grant of the slot gets another
  friend bool operator==(const RenderGrant&, const RenderGrant&) = default;
};
static_assert(sizeof(RenderGrant) == 32 && std::is_trivially_copyable_v<RenderGrant>);

enum class GrantMessageKind : std::uint16_t { kRender = 16, kDone = 17 };

// RENDER (host -> child) and DONE (child -> host) carry a grant, nothing else.
struct GrantMessage {
  MessageHeader header;
  RenderGrant grant;
};
static_assert(sizeof(GrantMessage) == 48 && std::is_trivially_copyable_v<GrantMessage>);

[[nodiscard]] GrantMessage render_message(const RenderGrant& grant) noexcept;
[[nodiscard]] GrantMessage done_message(const RenderGrant& grant) noexcept;

// Decodes DONE bytes from the child into a checked copy (size, magic,
// version, kind); the grant's fields are GrantTable::accept's to check.
[[nodiscard]] Result<RenderGrant> decode_done(std::span<const std::byte> bytes);
// The child's side: RENDER bytes from the host, likewise.
[[nodiscard]] Result<RenderGrant> decode_render(std::span<const std::byte> bytes);

enum class Violation : std::uint8_t {
  kMalformed,       // not a DONE message at all
  kStaleEpoch,      // a DONE from an earlier session
  kNotGranted,      // no open grant for that frame
  kFieldMismatch,   // slots or generation differ from the grant
  kCount,
};

class GrantTable {
 public:
  // Opens a grant for `frame` in the current epoch. kInvalidArgument for a
  // slot out of range, a slot already held by an open grant or quarantined,
  // or kMaxOpenGrants already open.
  [[nodiscard]] Result<RenderGrant> grant(std::uint64_t frame, std::uint32_t compute_slot, std::uint32_t layout_slot,
                                          std::uint32_t result_slot);
  // The child's DONE, decoded: the grant it closes, or kPeerLost naming the
  // violation (counted; the table is unchanged).
  [[nodiscard]] Result<RenderGrant> accept(const RenderGrant& done);
  // Counts a malformed message (decode_done failed).
  void note_malformed() noexcept { ++violations_[static_cast<std::size_t>(Violation::kMalformed)]; }
  // The child died: a new epoch; every open grant comes back, oldest first,
  // for the accounting ("lost to a render crash"); their result slots stay
  // quarantined until exit_confirmed().
  [[nodiscard]] std::vector<RenderGrant> peer_lost();
  // The dead child was reaped: nothing of it can still write a slot.
  void exit_confirmed() noexcept { quarantined_ = {}; }

  [[nodiscard]] std::uint64_t epoch() const noexcept { return epoch_; }
  [[nodiscard]] std::uint32_t open_grants() const noexcept { return open_count_; }
  [[nodiscard]] bool quarantined(std::uint32_t result_slot) const noexcept {
    return result_slot < kSlotsPerKind && quarantined_[result_slot];
  }
  [[nodiscard]] std::uint64_t violations(Violation v) const noexcept {
    return violations_[static_cast<std::size_t>(v)];
  }

 private:
  Error violation(Violation kind, const std::string& what);
  std::uint64_t epoch_ = 1;
  std::uint32_t next_generation_ = 1;
  std::array<RenderGrant, kMaxOpenGrants> open_{};
  std::array<bool, kMaxOpenGrants> is_open_{};
  std::uint32_t open_count_ = 0;
  std::array<bool, kSlotsPerKind> quarantined_{};
  std::array<std::uint64_t, static_cast<std::size_t>(Violation::kCount)> violations_{};
};

}  // namespace triptych::isolate
