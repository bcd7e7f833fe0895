// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for C as the host reads it: the input fills the child's
// memory (progress word, the three seals, result pixels) and picks a grant,
// the test mode and where the pixels lie, then runs the host's acceptance
// exactly as the isolated render stage does (isolate::take_sealed_result:
// seal and pixels copied once, the copies checked). C is a heap block of
// exactly its size, so ASan traps any read outside it. A shadow, computed
// from C itself and not from the host's copy, decides what must happen:
// accepted exactly when the seal names the grant, the hash matches and (test
// mode) every line carries the frame; the copy always equals C's pixels.
// Any mismatch traps. Single-threaded. See docs/isolation.md, "The isolated
// render stage".
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "triptych/isolate/render_session.hpp"

#include "fuzz_input.hpp"

namespace {

using namespace triptych;
using namespace triptych::isolate;

using fuzz::check;
using fuzz::Reader;

constexpr std::size_t kFirstZone = kSealsOffset + kRenderSlots * sizeof(ResultSeal);

// The shadow's own reading of the line rule, over C's bytes.
bool shadow_lines_hold(const std::byte* pixels, std::size_t bytes, std::uint64_t frame) {
  for (std::size_t at = 0; at + kFrameLineBytes <= bytes; at += kFrameLineBytes) {
    std::uint64_t id = 0;
    std::memcpy(&id, pixels + at, sizeof id);
    if (id != frame) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in{data, size};
  RenderGrant g;
  g.frame = in.u32();
  g.epoch = in.u8();
  g.generation = in.u8();
  g.result_slot = in.u8() % (kRenderSlots + 1);  // 3: a slot the host never grants
  g.compute_slot = g.layout_slot = g.result_slot % kRenderSlots;
  const std::uint8_t mode = in.u8();
  const bool test_mode = (mode & 1) != 0;
  const std::size_t pixel_bytes = std::size_t{in.u8()} * 16 + (mode & 2 ? 1 : 0);
  // Where the pixels lie: mostly right after the seals' page, sometimes
  // anywhere (the stage never asks for that; the function must refuse it).
  const std::uint32_t where = in.u32();
  const std::size_t c_bytes = 4096 + pixel_bytes + (in.u8() % 4) * 64;
  const std::uint64_t pixels_offset = (mode & 4) ? where % (c_bytes + 256) : 4096;
  std::vector<std::byte> c(c_bytes);
  for (std::byte& b : c) b = std::byte{in.u8()};  // zeros once the input runs out
  const bool in_bounds = g.result_slot < kRenderSlots && pixels_offset >= kFirstZone &&
                         pixels_offset <= c_bytes && pixel_bytes <= c_bytes - pixels_offset;
  if (in_bounds) {
    std::byte* pixels = c.data() + pixels_offset;
    // Help the fuzzer past the checks: a child that stamps and seals
    // honestly, then (by the mode's bits) lies about one thing.
    if (mode & 8) {
      for (std::size_t at = 0; at + kFrameLineBytes <= pixel_bytes; at += kFrameLineBytes) {
        std::memcpy(pixels + at, &g.frame, sizeof g.frame);
      }
    }
    if (mode & 16) {
      ResultSeal seal;
      seal.frame = g.frame;
      seal.epoch = g.epoch;
      seal.generation = g.generation;
      seal.hash = frame_hash({pixels, pixel_bytes});
      if (mode & 32) seal.generation ^= 1U << (in.u8() % 32);
      std::memcpy(c.data() + kSealsOffset + g.result_slot * sizeof seal, &seal, sizeof seal);
      if ((mode & 64) && pixel_bytes != 0) pixels[in.u32() % pixel_bytes] ^= std::byte{static_cast<std::uint8_t>(in.u8() | 1)};
    }
  }
  std::vector<std::byte> to(pixel_bytes, std::byte{0x5A});
  auto got = take_sealed_result(c, g, pixels_offset, test_mode, to);
  if (!in_bounds) {
    check(!got.ok() && got.error().code == Errc::kOutOfRange);
    return 0;
  }
  // The shadow, from C itself.
  const std::byte* pixels = c.data() + pixels_offset;
  ResultSeal seal;
  std::memcpy(&seal, c.data() + kSealsOffset + g.result_slot * sizeof seal, sizeof seal);
  const bool should_accept = seal.frame == g.frame && seal.epoch == g.epoch && seal.generation == g.generation &&
                             seal.hash == frame_hash({pixels, pixel_bytes}) &&
                             (!test_mode || shadow_lines_hold(pixels, pixel_bytes, g.frame));
  check(got.ok() == should_accept);
  if (!got) check(got.error().code == Errc::kCorruptHeader);
  check(pixel_bytes == 0 || std::memcmp(to.data(), pixels, pixel_bytes) == 0);
  return 0;
}
