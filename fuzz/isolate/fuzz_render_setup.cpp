// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the render process's first read of H: the setup
// record, as a hostile or broken host could leave it (the child trusts H no
// more than the host trusts C). The input either is H as it is, or patches
// a setup laid out as the isolated render stage lays it out, at offsets and
// with bytes the input picks. H is a heap block of exactly its size (ASan
// traps a read outside it). A setup read_render_setup accepts is checked
// against a shadow: sizes in range, finite parameters, every zone inside its
// memory, aligned, past the seals and disjoint; the unpatched setup must be
// accepted. Any mismatch traps. Single-threaded. See docs/isolation.md,
// "The render session's memory".
#include <algorithm>
#include <cmath>
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

constexpr std::uint64_t kPage = 4096;

std::uint64_t page_round(std::uint64_t n) { return (n + kPage - 1) / kPage * kPage; }

// As IsolatedRenderStage::create lays H and C out.
RenderSetup stage_setup(std::uint64_t compute_bytes, std::uint64_t layout_bytes, std::uint64_t result_bytes,
                        std::uint64_t* h_bytes, std::uint64_t* c_bytes) {
  RenderSetup s;
  s.width = 64;
  s.height = 48;
  s.scale = 2;
  s.compute_bytes = compute_bytes;
  s.layout_bytes = layout_bytes;
  s.result_bytes = result_bytes;
  const std::uint64_t setup_bytes = page_round(sizeof(RenderSetup));
  for (std::uint32_t i = 0; i < kRenderSlots; ++i) {
    s.compute_offset[i] = setup_bytes + i * page_round(compute_bytes);
    s.layout_offset[i] = kPage + i * page_round(layout_bytes);
    s.result_offset[i] = kPage + 3 * page_round(layout_bytes) + i * page_round(result_bytes);
  }
  *h_bytes = setup_bytes + 3 * page_round(compute_bytes);
  *c_bytes = kPage + 3 * (page_round(layout_bytes) + page_round(result_bytes));
  return s;
}

bool shadow_inside(std::uint64_t offset, std::uint64_t bytes, std::uint64_t floor, std::uint64_t limit) {
  // In 128 bits: no wrap can make a zone look inside.
  const unsigned __int128 end = static_cast<unsigned __int128>(offset) + bytes;
  return offset % 64 == 0 && offset >= floor && end <= limit;
}

bool shadow_apart(std::uint64_t a, std::uint64_t a_bytes, std::uint64_t b, std::uint64_t b_bytes) {
  return static_cast<unsigned __int128>(a) + a_bytes <= b || static_cast<unsigned __int128>(b) + b_bytes <= a;
}

// Everything read_render_setup promises of a setup it accepts.
void check_accepted(const RenderSetup& s, std::uint64_t h_bytes, std::uint64_t c_bytes) {
  check(s.magic == kRenderSetupMagic && s.version == kRenderSetupVersion);
  check(s.width >= 1 && s.width <= 16384 && s.height >= 1 && s.height <= 16384 && s.test_mode <= 1);
  check(s.renderer == kRendererCpu || s.renderer == kRendererVulkan);
  for (const float f : {s.origin_x, s.origin_y, s.scale, s.velocity_scale, s.max_size, s.max_line_length}) {
    check(std::isfinite(f));
  }
  const std::uint64_t first_zone = kSealsOffset + kRenderSlots * sizeof(ResultSeal);
  for (std::uint32_t i = 0; i < kRenderSlots; ++i) {
    check(shadow_inside(s.compute_offset[i], s.compute_bytes, sizeof(RenderSetup), h_bytes));
    check(shadow_inside(s.layout_offset[i], s.layout_bytes, first_zone, c_bytes));
    check(shadow_inside(s.result_offset[i], s.result_bytes, first_zone, c_bytes));
    check(s.slots[i].draw_stride != 0 && std::isfinite(s.slots[i].resolution_scale));
    check(std::uint64_t{s.slots[i].particle_count} * 32 <= s.compute_bytes);
    for (std::uint32_t j = 0; j < kRenderSlots; ++j) {
      check(shadow_apart(s.layout_offset[i], s.layout_bytes, s.result_offset[j], s.result_bytes));
      if (i == j) continue;
      check(shadow_apart(s.layout_offset[i], s.layout_bytes, s.layout_offset[j], s.layout_bytes));
      check(shadow_apart(s.result_offset[i], s.result_bytes, s.result_offset[j], s.result_bytes));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in{data, size};
  const std::uint8_t mode = in.u8();
  std::vector<std::byte> h;
  std::uint64_t c_bytes = 0;
  bool pristine = false;
  if (mode % 2 == 0) {
    // H as the input has it, of the input's size.
    c_bytes = in.u32();
    h.resize(in.n);
    if (in.n != 0) std::memcpy(h.data(), in.p, in.n);
  } else {
    std::uint64_t h_bytes = 0;
    const RenderSetup s = stage_setup(std::uint64_t{in.u8()} * 32 + 32, std::uint64_t{in.u8()} * 64 + 64,
                                      std::uint64_t{in.u8()} * 256 + 64, &h_bytes, &c_bytes);
    h.resize(h_bytes);
    std::memcpy(h.data(), &s, sizeof s);
    pristine = true;
    // Patches: an offset into the record, then up to 8 bytes.
    for (std::uint32_t patches = in.u8() % 8; patches > 0 && !in.empty(); --patches) {
      const std::size_t at = in.u8() % sizeof(RenderSetup);
      const std::size_t len = std::min<std::size_t>(1 + in.u8() % 8, sizeof(RenderSetup) - at);
      for (std::size_t k = 0; k < len; ++k) h[at + k] = std::byte{in.u8()};
      pristine = false;
    }
    if (mode & 2) c_bytes = in.u32();  // a C of another size than the setup assumes
    if (mode & 2) pristine = false;
  }
  auto got = read_render_setup(h, c_bytes);
  if (pristine) check(got.ok());
  if (!got) {
    check(got.error().code == Errc::kCorruptHeader);
    return 0;
  }
  RenderSetup copy;
  std::memcpy(&copy, h.data(), sizeof copy);
  check(std::memcmp(&copy, &got.value(), sizeof copy) == 0);
  check_accepted(got.value(), h.size(), c_bytes);
  return 0;
}
