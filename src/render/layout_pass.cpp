// SPDX-License-Identifier: Apache-2.0
// The layout pass (include/triptych/render/layout_pass.hpp): untrusted particles to
// validated, culled instance records, chunked for the render pool. Chunks
// write disjoint instance ranges and their own counters, so they share no
// memory while running; the ParallelFor's join orders their writes before
// the caller reads them. See docs/render-stage.md.
#include "triptych/render/layout_pass.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace triptych::render {

LayoutStats& LayoutStats::operator+=(const LayoutStats& o) noexcept {
  input += o.input;
  drawn += o.drawn;
  culled += o.culled;
  nonfinite += o.nonfinite;
  bad_size += o.bad_size;
  bad_shape += o.bad_shape;
  overflow += o.overflow;
  clamped += o.clamped;
  return *this;
}

ParallelFor thread_split_parallel_for() {
  return [](std::uint32_t tasks, const std::function<void(std::uint32_t)>& body) {
    std::vector<std::thread> threads;
    threads.reserve(tasks > 0 ? tasks - 1 : 0);
    for (std::uint32_t i = 1; i < tasks; ++i) threads.emplace_back(body, i);
    if (tasks > 0) body(0);
    for (auto& t : threads) t.join();
  };
}

ParallelFor serial_parallel_for() {
  return [](std::uint32_t tasks, const std::function<void(std::uint32_t)>& body) {
    for (std::uint32_t i = 0; i < tasks; ++i) body(i);
  };
}

Result<void> validate(const LayoutParams& p) {
  auto bad = [](const char* what) { return make_error(Errc::kInvalidArgument, what); };
  if (p.width == 0 || p.height == 0 || p.width > 16384 || p.height > 16384) {
    return bad("layout width and height must be in [1, 16384]");
  }
  if (!std::isfinite(p.origin_x) || !std::isfinite(p.origin_y)) return bad("layout origin must be finite");
  if (!std::isfinite(p.scale) || p.scale <= 0.0F) return bad("layout scale must be finite and > 0");
  if (!std::isfinite(p.velocity_scale)) return bad("layout velocity_scale must be finite");
  if (!std::isfinite(p.max_size) || p.max_size < 0.0F) return bad("layout max_size must be finite and >= 0");
  if (!std::isfinite(p.max_line_length) || p.max_line_length < 0.0F) {
    return bad("layout max_line_length must be finite and >= 0");
  }
  if (p.draw_stride == 0) return bad("layout draw_stride must be >= 1");
  return {};
}

LayoutParams scaled_layout(const LayoutParams& full, float resolution_scale, std::uint32_t draw_stride) noexcept {
  const float s = std::isfinite(resolution_scale) ? std::clamp(resolution_scale, 1.0F / 16.0F, 1.0F) : 1.0F;
  LayoutParams p = full;
  p.draw_stride = std::max<std::uint32_t>(1, draw_stride);
  if (s == 1.0F) return p;
  p.width = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(std::lround(static_cast<float>(full.width) * s)));
  p.height = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(std::lround(static_cast<float>(full.height) * s)));
  // screen = (world - origin) * scale: the origin stays, the scale shrinks.
  p.scale = full.scale * s;
  p.max_size = full.max_size * s;
  p.max_line_length = full.max_line_length * s;
  return p;
}

namespace {

// Anti-aliasing margin the vertex shader adds around every shape, in pixels.
constexpr float kMarginPx = 1.0F;

struct Limits {
  float w, h, max_size, max_line;
};

bool finite2(float a, float b) { return std::isfinite(a) && std::isfinite(b); }

// Lays out particles [first, last) into out[first...]; returns how many it wrote.
std::uint32_t layout_chunk(const LayoutParams& p, const Limits& lim, const std::byte* slot,
                           std::uint32_t first, std::uint32_t last, Instance* out,
                           LayoutStats& st) {
  std::uint32_t n = 0;
  for (std::uint32_t i = first; i < last; ++i) {
    Particle q;
    std::memcpy(&q, slot + std::size_t{i} * sizeof(Particle), sizeof q);
    if (!finite2(q.x, q.y) || !std::isfinite(q.size)) {
      ++st.nonfinite;
      continue;
    }
    if (q.shape >= kShapeCount) {
      ++st.bad_shape;
      continue;
    }
    const auto shape = static_cast<Shape>(q.shape);
    if (shape == Shape::kLine && !finite2(q.vx, q.vy)) {
      ++st.nonfinite;
      continue;
    }
    if (q.size < 0.0F) {
      ++st.bad_size;
      continue;
    }
    float size = q.size * p.scale;
    if (size > lim.max_size) {
      size = lim.max_size;
      ++st.clamped;
    }
    const float ax = (q.x - p.origin_x) * p.scale;
    const float ay = (q.y - p.origin_y) * p.scale;
    float bx = size;
    float by = size;
    if (shape == Shape::kLine) {
      float dx = q.vx * p.velocity_scale * p.scale;
      float dy = q.vy * p.velocity_scale * p.scale;
      const float len = std::hypot(dx, dy);
      if (std::isfinite(len) && len > lim.max_line) {
        dx *= lim.max_line / len;
        dy *= lim.max_line / len;
        ++st.clamped;
      }
      bx = ax + dx;
      by = ay + dy;
    }
    // Off-screen by overflow (a huge but finite input) is culled like any other.
    const float e = size + kMarginPx;
    const float x0 = shape == Shape::kLine ? std::min(ax, bx) - e : ax - e;
    const float x1 = shape == Shape::kLine ? std::max(ax, bx) + e : ax + e;
    const float y0 = shape == Shape::kLine ? std::min(ay, by) - e : ay - e;
    const float y1 = shape == Shape::kLine ? std::max(ay, by) + e : ay + e;
    const bool visible = finite2(ax, ay) && finite2(bx, by) && size > 0.0F &&
                         (q.rgba >> 24) != 0 && x1 > 0.0F && y1 > 0.0F && x0 < lim.w &&
                         y0 < lim.h && i % p.draw_stride == 0;
    if (!visible) {
      ++st.culled;
      continue;
    }
    Instance& o = out[first + n];
    o.ax = ax;
    o.ay = ay;
    o.bx = bx;
    o.by = by;
    o.param = shape == Shape::kCircle ? 0.0F : (shape == Shape::kRoundedRect ? size * 0.25F : size);
    o.rgba = q.rgba;
    o.shape = q.shape;
    o.reserved = 0;
    ++n;
  }
  st.drawn += n;
  return n;
}

}  // namespace

Result<LayoutResult> layout_pass(const LayoutParams& params, std::uint64_t frame,
                                 std::span<const std::byte> compute_slot,
                                 std::uint32_t particle_count, std::span<std::byte> layout_zone,
                                 std::uint32_t tasks, const ParallelFor& pool) {
  if (auto v = validate(params); !v) return v.error();
  if (layout_zone.size() < kZonePayloadOffset) {
    return make_error(Errc::kTooSmall, "layout zone of " + std::to_string(layout_zone.size()) +
                                           " bytes cannot hold its " +
                                           std::to_string(kZonePayloadOffset) + "-byte header");
  }
  if (reinterpret_cast<std::uintptr_t>(layout_zone.data()) % alignof(LayoutZoneHeader) != 0) {
    return make_error(Errc::kMisaligned, "layout zone is not 8-byte aligned");
  }
  const std::uint32_t capacity = layout_zone_capacity(layout_zone.size());
  const std::size_t slot_fit = compute_slot.size() / sizeof(Particle);
  const std::uint32_t n = static_cast<std::uint32_t>(
      std::min<std::size_t>({particle_count, capacity, slot_fit}));

  LayoutResult r;
  const float longest = static_cast<float>(std::max(params.width, params.height));
  const Limits lim{static_cast<float>(params.width), static_cast<float>(params.height),
                   params.max_size > 0.0F ? params.max_size : longest,
                   params.max_line_length > 0.0F ? params.max_line_length : 2.0F * longest};
  std::uint32_t chunks = std::clamp<std::uint32_t>(tasks, 1, kMaxLayoutChunks);
  chunks = std::max<std::uint32_t>(1, std::min(chunks, n / kMinChunkParticles));
  std::array<LayoutStats, kMaxLayoutChunks> stats{};
  auto* out = reinterpret_cast<Instance*>(layout_zone.data() + kZonePayloadOffset);
  const std::byte* slot = compute_slot.data();
  auto body = [&](std::uint32_t c) {
    const std::uint32_t first = static_cast<std::uint32_t>(std::uint64_t{n} * c / chunks);
    const std::uint32_t last = static_cast<std::uint32_t>(std::uint64_t{n} * (c + 1) / chunks);
    r.chunks[c].first = first;
    r.chunks[c].count = layout_chunk(params, lim, slot, first, last, out, stats[c]);
  };
  if (chunks == 1) {
    body(0);
  } else {
    pool(chunks, body);
  }
  r.chunk_count = chunks;
  for (std::uint32_t c = 0; c < chunks; ++c) {
    r.stats += stats[c];
    r.instance_count += r.chunks[c].count;
  }
  r.stats.input = particle_count;
  r.stats.overflow = particle_count - n;

  LayoutZoneHeader h{};
  h.magic = kLayoutZoneMagic;
  h.version = kRenderZoneVersion;
  h.frame = frame;
  h.instance_offset = kZonePayloadOffset;
  h.capacity = capacity;
  h.chunk_count = r.chunk_count;
  h.instance_count = r.instance_count;
  h.stats = r.stats;
  h.chunks = r.chunks;
  std::memcpy(layout_zone.data(), &h, sizeof h);
  return r;
}

}  // namespace triptych::render
