// SPDX-License-Identifier: Apache-2.0
// triptych-kernel-ref: runs the native build of the particle kernel for a
// number of frames and writes the final particles (raw little-endian
// tp_particle records) to a file, so tests can compare the WASM build with it
// byte for byte. Single-threaded.
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "triptych_kernel.h"

namespace {

constexpr const char* kUsage =
    "usage: triptych-kernel-ref --particles N --frames F --chunk C --seed S --dt SECONDS --out FILE\n"
    "Runs the native particle kernel F frames over N particles in C-item chunks and\n"
    "writes the last frame's particles (32 bytes each) to FILE.\n";

bool parse_u32(std::string_view s, std::uint32_t& out) {
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

int main(int argc, char** argv) {
  std::uint32_t particles = 1000, frames = 10, chunk = 256, seed = 1;
  float dt = 1.0f / 120.0f;
  const char* out_path = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "triptych-kernel-ref: %s needs a value\n%s", argv[i], kUsage);
      return 2;
    }
    const std::string_view value = argv[++i];
    bool ok = true;
    if (arg == "--particles") ok = parse_u32(value, particles) && particles > 0;
    else if (arg == "--frames") ok = parse_u32(value, frames) && frames > 0;
    else if (arg == "--chunk") ok = parse_u32(value, chunk) && chunk > 0;
    else if (arg == "--seed") ok = parse_u32(value, seed);
    else if (arg == "--dt") ok = std::sscanf(argv[i], "%f", &dt) == 1 && dt > 0.0f;
    else if (arg == "--out") out_path = argv[i];
    else {
      std::fprintf(stderr, "triptych-kernel-ref: unknown flag %s\n%s", argv[i - 1], kUsage);
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "triptych-kernel-ref: bad value for %s: %s\n", argv[i - 1], argv[i]);
      return 2;
    }
  }
  if (out_path == nullptr) {
    std::fprintf(stderr, "triptych-kernel-ref: --out is required\n%s", kUsage);
    return 2;
  }
  std::vector<tp_particle> a(particles), b(particles);
  tp_kernel_ctx ctx{};
  ctx.abi_version = TP_KERNEL_ABI_VERSION;
  ctx.item_count = particles;
  ctx.item_bytes = sizeof(tp_particle);
  ctx.dt = dt;
  ctx.seed = seed;
  std::vector<tp_particle>* in = &a;
  std::vector<tp_particle>* out = &b;
  for (std::uint32_t f = 1; f <= frames; ++f) {
    ctx.frame_id = f;
    ctx.time = static_cast<float>(f) * dt;
    ctx.flags = f == 1 ? TP_CTX_FIRST_FRAME : 0u;
    ctx.input_offset = reinterpret_cast<std::uintptr_t>(in->data());
    ctx.output_offset = reinterpret_cast<std::uintptr_t>(out->data());
    for (std::uint32_t begin = 0; begin < particles; begin += chunk) {
      const std::uint32_t end = particles - begin < chunk ? particles : begin + chunk;
      if (const int rc = tp_kernel_step(&ctx, begin, end); rc != 0) {
        std::fprintf(stderr, "triptych-kernel-ref: kernel failed with %d at frame %u\n", rc, f);
        return 1;
      }
    }
    std::swap(in, out);
  }
  std::FILE* file = std::fopen(out_path, "wb");
  if (file == nullptr) {
    std::fprintf(stderr, "triptych-kernel-ref: cannot open %s: %s\n", out_path, std::strerror(errno));
    return 1;
  }
  const std::size_t written = std::fwrite(in->data(), sizeof(tp_particle), in->size(), file);
  std::fclose(file);
  return written == in->size() ? 0 : 1;
}
