// SPDX-License-Identifier: Apache-2.0
// The render session's layout and result proofs: see
// include/triptych/isolate/render_session.hpp.
#include "triptych/isolate/render_session.hpp"

#include <cmath>
#include <cstring>
#include <string>

namespace triptych::isolate {
namespace {

Error corrupt(const std::string& what) { return make_error(Errc::kCorruptHeader, "render setup: " + what); }

// [offset, offset + bytes) inside [floor, limit), 64-aligned.
bool inside(std::uint64_t offset, std::uint64_t bytes, std::uint64_t floor, std::uint64_t limit) {
  return offset % 64 == 0 && offset >= floor && bytes <= limit && offset <= limit - bytes;
}

bool disjoint(std::uint64_t a, std::uint64_t a_bytes, std::uint64_t b, std::uint64_t b_bytes) {
  return a + a_bytes <= b || b + b_bytes <= a;
}

std::uint64_t load_word(const std::byte* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

}  // namespace

Result<RenderSetup> read_render_setup(std::span<const std::byte> host, std::size_t child_bytes) {
  if (host.size() < sizeof(RenderSetup)) return corrupt("H is smaller than the setup record");
  RenderSetup s;
  std::memcpy(&s, host.data(), sizeof s);
  if (s.magic != kRenderSetupMagic) return corrupt("bad magic");
  if (s.version != kRenderSetupVersion) return corrupt("version " + std::to_string(s.version));
  if (s.width == 0 || s.height == 0 || s.width > 16384 || s.height > 16384) return corrupt("bad image size");
  if (s.test_mode > 1) return corrupt("bad test mode");
  if (s.renderer != kRendererCpu && s.renderer != kRendererVulkan) return corrupt("unknown renderer");
  for (const float f : {s.origin_x, s.origin_y, s.scale, s.velocity_scale, s.max_size, s.max_line_length}) {
    if (!std::isfinite(f)) return corrupt("a layout parameter is not finite");
  }
  const std::uint64_t first_zone = kSealsOffset + kRenderSlots * sizeof(ResultSeal);
  for (std::uint32_t i = 0; i < kRenderSlots; ++i) {
    if (!inside(s.compute_offset[i], s.compute_bytes, sizeof(RenderSetup), host.size())) {
      return corrupt("compute slot " + std::to_string(i) + " lies outside H");
    }
    if (!inside(s.layout_offset[i], s.layout_bytes, first_zone, child_bytes) ||
        !inside(s.result_offset[i], s.result_bytes, first_zone, child_bytes)) {
      return corrupt("zone " + std::to_string(i) + " lies outside C");
    }
    const SlotFrame& f = s.slots[i];
    if (f.draw_stride == 0 || !std::isfinite(f.resolution_scale) ||
        static_cast<std::uint64_t>(f.particle_count) * 32 > s.compute_bytes) {
      return corrupt("slot " + std::to_string(i) + "'s frame");
    }
  }
  for (std::uint32_t i = 0; i < kRenderSlots; ++i) {
    for (std::uint32_t j = 0; j < kRenderSlots; ++j) {
      const bool overlap =
          (i != j && (!disjoint(s.layout_offset[i], s.layout_bytes, s.layout_offset[j], s.layout_bytes) ||
                      !disjoint(s.result_offset[i], s.result_bytes, s.result_offset[j], s.result_bytes))) ||
          !disjoint(s.layout_offset[i], s.layout_bytes, s.result_offset[j], s.result_bytes);
      if (overlap) return corrupt("zones overlap");
    }
  }
  return s;
}

std::uint64_t frame_hash(std::span<const std::byte> bytes) noexcept {
  constexpr std::uint64_t kPrime = 0x9E3779B97F4A7C15ULL;
  std::array<std::uint64_t, 4> lane{0x243F6A8885A308D3ULL, 0x13198A2E03707344ULL, 0xA4093822299F31D0ULL,
                                    0x082EFA98EC4E6C89ULL};
  const std::byte* p = bytes.data();
  std::size_t n = bytes.size();
  while (n >= 32) {
    for (std::size_t l = 0; l < 4; ++l) {
      lane[l] = (lane[l] ^ load_word(p + 8 * l)) * kPrime;
      lane[l] ^= lane[l] >> 29;
    }
    p += 32;
    n -= 32;
  }
  std::uint64_t h = bytes.size() * kPrime;
  for (const std::uint64_t l : lane) h = (h ^ l) * kPrime;
  for (; n > 0; --n, ++p) h = (h ^ static_cast<std::uint64_t>(*p)) * 0x100000001B3ULL;
  return h ^ (h >> 31);
}

Result<void> take_sealed_result(std::span<const std::byte> child, const RenderGrant& grant,
                                std::uint64_t pixels_offset, bool test_mode, std::span<std::byte> to) {
  if (grant.result_slot >= kRenderSlots || pixels_offset < kSealsOffset + kRenderSlots * sizeof(ResultSeal) ||
      to.size() > child.size() || pixels_offset > child.size() - to.size()) {
    return make_error(Errc::kOutOfRange, "the result's pixels lie outside C");
  }
  ResultSeal seal;
  std::memcpy(&seal, child.data() + kSealsOffset + grant.result_slot * sizeof seal, sizeof seal);
  if (!to.empty()) std::memcpy(to.data(), child.data() + pixels_offset, to.size());
  if (seal.frame != grant.frame || seal.epoch != grant.epoch || seal.generation != grant.generation) {
    return make_error(Errc::kCorruptHeader, "its seal names another grant");
  }
  if (frame_hash(to) != seal.hash) return make_error(Errc::kCorruptHeader, "its pixels do not match their hash (torn or spoiled)");
  if (test_mode && !frame_lines_hold(to, grant.frame)) {
    return make_error(Errc::kCorruptHeader, "a line of it carries another frame's id (torn)");
  }
  return {};
}

void stamp_frame_lines(std::span<std::byte> pixels, std::uint64_t frame) noexcept {
  for (std::size_t at = 0; at + kFrameLineBytes <= pixels.size(); at += kFrameLineBytes) {
    std::memcpy(pixels.data() + at, &frame, sizeof frame);
  }
}

bool frame_lines_hold(std::span<const std::byte> pixels, std::uint64_t frame) noexcept {
  for (std::size_t at = 0; at + kFrameLineBytes <= pixels.size(); at += kFrameLineBytes) {
    if (load_word(pixels.data() + at) != frame) return false;
  }
  return true;
}

}  // namespace triptych::isolate
