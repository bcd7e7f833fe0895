// SPDX-License-Identifier: Apache-2.0
// Slot grants and their completions: see include/triptych/isolate/grants.hpp.
#include "triptych/isolate/grants.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace triptych::isolate {
namespace {

GrantMessage message(GrantMessageKind kind, const RenderGrant& grant) noexcept {
  GrantMessage m;
  m.header.kind = static_cast<std::uint16_t>(kind);
  m.header.bytes = sizeof(GrantMessage);
  m.grant = grant;
  return m;
}

std::string describe(const RenderGrant& g) {
  return "frame " + std::to_string(g.frame) + " epoch " + std::to_string(g.epoch) + " slots " +
         std::to_string(g.compute_slot) + "/" + std::to_string(g.layout_slot) + "/" + std::to_string(g.result_slot) +
         " generation " + std::to_string(g.generation);
}

}  // namespace

GrantMessage render_message(const RenderGrant& grant) noexcept { return message(GrantMessageKind::kRender, grant); }
GrantMessage done_message(const RenderGrant& grant) noexcept { return message(GrantMessageKind::kDone, grant); }

namespace {

// Copies and checks a grant message of `kind` (size, magic, version, kind).
Result<RenderGrant> decode(std::span<const std::byte> bytes, GrantMessageKind kind, const char* name) {
  if (bytes.size() != sizeof(GrantMessage)) {
    return make_error(Errc::kPeerLost, std::string("protocol violation: ") + name + " of " +
                                           std::to_string(bytes.size()) + " bytes, expected " +
                                           std::to_string(sizeof(GrantMessage)));
  }
  GrantMessage m;
  std::memcpy(&m, bytes.data(), sizeof m);
  if (m.header.magic != kMessageMagic || m.header.version != kProtocolVersion ||
      m.header.kind != static_cast<std::uint16_t>(kind) || m.header.bytes != sizeof m) {
    return make_error(Errc::kPeerLost, std::string("protocol violation: not a ") + name + " message (kind " +
                                           std::to_string(m.header.kind) + ")");
  }
  return m.grant;
}

}  // namespace

Result<RenderGrant> decode_done(std::span<const std::byte> bytes) {
  return decode(bytes, GrantMessageKind::kDone, "DONE");
}

Result<RenderGrant> decode_render(std::span<const std::byte> bytes) {
  return decode(bytes, GrantMessageKind::kRender, "RENDER");
}

Error GrantTable::violation(Violation kind, const std::string& what) {
  ++violations_[static_cast<std::size_t>(kind)];
  return make_error(Errc::kPeerLost, "protocol violation: " + what);
}

Result<RenderGrant> GrantTable::grant(std::uint64_t frame, std::uint32_t compute_slot, std::uint32_t layout_slot,
                                      std::uint32_t result_slot) {
  if (compute_slot >= kSlotsPerKind || layout_slot >= kSlotsPerKind || result_slot >= kSlotsPerKind) {
    return make_error(Errc::kInvalidArgument, "grant: a slot index beyond " + std::to_string(kSlotsPerKind));
  }
  if (open_count_ == kMaxOpenGrants) return make_error(Errc::kInvalidArgument, "grant: every grant is open");
  if (quarantined_[result_slot]) {
    return make_error(Errc::kInvalidArgument, "grant: result slot " + std::to_string(result_slot) +
                                                  " is quarantined until the dead render process is reaped");
  }
  for (std::uint32_t i = 0; i < kMaxOpenGrants; ++i) {
    if (!is_open_[i]) continue;
    const RenderGrant& g = open_[i];
    if (g.frame == frame || g.compute_slot == compute_slot || g.layout_slot == layout_slot ||
        g.result_slot == result_slot) {
      return make_error(Errc::kInvalidArgument, "grant: frame " + std::to_string(frame) + " or its slots are held by " +
                                                    describe(g));
    }
  }
  const auto free = static_cast<std::uint32_t>(std::find(is_open_.begin(), is_open_.end(), false) - is_open_.begin());
  RenderGrant g{epoch_, frame, compute_slot, layout_slot, result_slot, next_generation_++};
  open_[free] = g;
  is_open_[free] = true;
  ++open_count_;
  return g;
}

Result<RenderGrant> GrantTable::accept(const RenderGrant& done) {
  if (done.epoch != epoch_) return violation(Violation::kStaleEpoch, "DONE for " + describe(done) + " in epoch " + std::to_string(epoch_));
  for (std::uint32_t i = 0; i < kMaxOpenGrants; ++i) {
    if (!is_open_[i] || open_[i].frame != done.frame) continue;
    if (!(open_[i] == done)) {
      return violation(Violation::kFieldMismatch, "DONE for " + describe(done) + " but the grant was " + describe(open_[i]));
    }
    is_open_[i] = false;
    --open_count_;
    return open_[i];
  }
  return violation(Violation::kNotGranted, "DONE for " + describe(done) + ", which is not an open grant");
}

std::vector<RenderGrant> GrantTable::peer_lost() {
  std::vector<RenderGrant> lost;
  for (std::uint32_t i = 0; i < kMaxOpenGrants; ++i) {
    if (!is_open_[i]) continue;
    lost.push_back(open_[i]);
    quarantined_[open_[i].result_slot] = true;
    is_open_[i] = false;
  }
  std::sort(lost.begin(), lost.end(), [](const RenderGrant& a, const RenderGrant& b) { return a.frame < b.frame; });
  open_count_ = 0;
  ++epoch_;
  return lost;
}

}  // namespace triptych::isolate
