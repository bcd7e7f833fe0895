// SPDX-License-Identifier: Apache-2.0
// The CPU reference renderer (cpu_stage.hpp). Mirrors src/render/shaders/quad.vert and
// sdf.frag: the quad is the shape plus a one-pixel margin, coverage
// is clamp(0.5 - distance, 0, 1) at the pixel centre, and blending is
// straight-alpha "over" rounded to 8 bits after every instance, as a UNORM8
// attachment does. Single-threaded. See docs/render-stage.md.
#include "triptych/render/cpu_stage.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

namespace triptych::render {

namespace {

constexpr float kMargin = 1.0F;

std::uint8_t to_unorm8(float v) {
  return static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0F, 1.0F) * 255.0F));
}

void draw(const Instance& in, std::uint32_t width, std::uint32_t height, std::uint8_t* px) {
  float cx = in.ax;
  float cy = in.ay;
  float ux = 1.0F;  // the quad's local x axis
  float uy = 0.0F;
  float hx = in.bx;  // shape half extents (without margin)
  float hy = in.by;
  float sx = in.bx;  // shape parameters, as v_shape in the shaders
  float sy = in.by;
  const float sz = in.param;
  const auto kind = static_cast<Shape>(in.shape);
  if (kind == Shape::kLine) {
    const float dx = in.bx - in.ax;
    const float dy = in.by - in.ay;
    const float len = std::sqrt(dx * dx + dy * dy);
    if (len > 1e-6F) {
      ux = dx / len;
      uy = dy / len;
    }
    cx = (in.ax + in.bx) * 0.5F;
    cy = (in.ay + in.by) * 0.5F;
    hx = len * 0.5F + in.param;
    hy = in.param;
    sx = len * 0.5F;
    sy = 0.0F;
  }
  const float ex = hx + kMargin;
  const float ey = hy + kMargin;
  // Bounding box of the (possibly rotated) quad.
  const float bx = std::abs(ux) * ex + std::abs(uy) * ey;
  const float by = std::abs(uy) * ex + std::abs(ux) * ey;
  const long x0 = std::max(0L, std::lround(std::floor(cx - bx)));
  const long x1 = std::min(static_cast<long>(width) - 1, std::lround(std::ceil(cx + bx)));
  const long y0 = std::max(0L, std::lround(std::floor(cy - by)));
  const long y1 = std::min(static_cast<long>(height) - 1, std::lround(std::ceil(cy + by)));
  const float cr = static_cast<float>(in.rgba & 0xFFU) / 255.0F;
  const float cg = static_cast<float>((in.rgba >> 8) & 0xFFU) / 255.0F;
  const float cb = static_cast<float>((in.rgba >> 16) & 0xFFU) / 255.0F;
  const float ca = static_cast<float>(in.rgba >> 24) / 255.0F;
  for (long y = y0; y <= y1; ++y) {
    for (long x = x0; x <= x1; ++x) {
      const float qx = static_cast<float>(x) + 0.5F - cx;
      const float qy = static_cast<float>(y) + 0.5F - cy;
      const float lx = qx * ux + qy * uy;    // local coordinates
      const float ly = -qx * uy + qy * ux;
      if (std::abs(lx) > ex || std::abs(ly) > ey) continue;  // outside the quad
      float d = 0.0F;
      if (kind == Shape::kCircle) {
        d = std::sqrt(lx * lx + ly * ly) - sx;
      } else if (kind == Shape::kRoundedRect) {
        const float ax = std::abs(lx) - (sx - sz);
        const float ay = std::abs(ly) - (sy - sz);
        const float mx = std::max(ax, 0.0F);
        const float my = std::max(ay, 0.0F);
        d = std::sqrt(mx * mx + my * my) + std::min(std::max(ax, ay), 0.0F) - sz;
      } else {
        const float ax = std::max(std::abs(lx) - sx, 0.0F);
        d = std::sqrt(ax * ax + ly * ly) - sz;
      }
      const float a = ca * std::clamp(0.5F - d, 0.0F, 1.0F);
      std::uint8_t* p = px + (static_cast<std::size_t>(y) * width + static_cast<std::size_t>(x)) * 4;
      const float dr = p[0] / 255.0F;
      const float dg = p[1] / 255.0F;
      const float db = p[2] / 255.0F;
      const float da = p[3] / 255.0F;
      p[0] = to_unorm8(cr * a + dr * (1.0F - a));
      p[1] = to_unorm8(cg * a + dg * (1.0F - a));
      p[2] = to_unorm8(cb * a + db * (1.0F - a));
      p[3] = to_unorm8(a + da * (1.0F - a));
    }
  }
}

}  // namespace

void rasterise(std::span<const std::byte> layout_zone, const LayoutResult& layout, std::uint32_t width,
               std::uint32_t height, const std::array<float, 4>& clear, std::span<std::uint8_t> pixels) {
  const std::array<std::uint8_t, 4> c{to_unorm8(clear[0]), to_unorm8(clear[1]), to_unorm8(clear[2]), to_unorm8(clear[3])};
  for (std::size_t i = 0; i + 4 <= pixels.size(); i += 4) std::memcpy(pixels.data() + i, c.data(), 4);
  const std::byte* base = layout_zone.data() + kZonePayloadOffset;
  for (std::uint32_t k = 0; k < layout.chunk_count; ++k) {
    for (std::uint32_t i = 0; i < layout.chunks[k].count; ++i) {
      Instance in;
      std::memcpy(&in, base + (std::size_t{layout.chunks[k].first} + i) * sizeof(Instance), sizeof in);
      draw(in, width, height, pixels.data());
    }
  }
}

Result<std::unique_ptr<CpuRenderStage>> CpuRenderStage::create(const LayoutParams& layout,
                                                               const std::array<float, 4>& clear,
                                                               std::span<const std::span<std::byte>> layout_zones,
                                                               std::span<const std::span<std::byte>> result_zones) {
  if (auto v = validate(layout); !v) return v.error();
  if (layout_zones.empty() || result_zones.empty()) {
    return make_error(Errc::kInvalidArgument, "the CPU renderer needs at least one layout and one result zone");
  }
  std::unique_ptr<CpuRenderStage> s(new CpuRenderStage());
  s->layout_ = layout;
  s->clear_ = clear;
  for (auto z : layout_zones) {
    if (layout_zone_capacity(z.size()) == 0) return make_error(Errc::kTooSmall, "layout zone cannot hold one instance");
    s->layout_zones_.push_back(z);
  }
  for (auto z : result_zones) {
    if (auto r = init_result_zone(z, layout.width, layout.height); !r) return r.error();
    s->result_zones_.push_back(z);
  }
  s->scratch_.resize(std::size_t{layout.width} * layout.height * 4);
  return s;
}

Result<std::uint64_t> CpuRenderStage::submit(const FrameInput& in) {
  if (in.layout_zone >= layout_zones_.size() || in.result_zone >= result_zones_.size()) {
    return make_error(Errc::kOutOfRange, "zone index out of range");
  }
  FrameInfo info;
  info.ticket = next_ticket_;
  info.frame = in.frame;
  info.layout_zone = in.layout_zone;
  info.result_zone = in.result_zone;
  info.render_start_ns = now_ns();
  auto zone = layout_zones_[in.layout_zone];
  // A governor's shed render cost: fewer pixels (top-left), fewer particles.
  const LayoutParams frame_layout = scaled_layout(layout_, in.resolution_scale, in.draw_stride);
  auto lr = layout_pass(frame_layout, in.frame, in.compute_slot, in.particle_count, zone, 1, serial_parallel_for());
  if (!lr) return lr.error();
  info.stats = lr.value().stats;
  info.layout_end_ns = now_ns();
  const std::size_t row = std::size_t{frame_layout.width} * 4;
  const std::span<std::uint8_t> frame_pixels(scratch_.data(), row * frame_layout.height);
  rasterise(zone, lr.value(), frame_layout.width, frame_layout.height, clear_, frame_pixels);
  auto out = result_zones_[in.result_zone];
  for (std::uint32_t y = 0; y < frame_layout.height; ++y) {
    std::memcpy(out.data() + kZonePayloadOffset + std::size_t{y} * layout_.width * 4, scratch_.data() + y * row, row);
  }
  auto* header = reinterpret_cast<ResultZoneHeader*>(out.data());
  // SYNC(result-frame): publishes the pixels of frame `in.frame` in this zone.
  header->frame.store(in.frame + 1, std::memory_order_release);
  info.submitted_ns = info.render_end_ns = now_ns();
  history_[info.ticket % kFrameHistory] = info;
  ++next_ticket_;
  store_and_wake(ready_, static_cast<std::uint32_t>(next_ticket_), INT_MAX);
  if (callback_) callback_(info);
  return info.ticket;
}

Result<FrameInfo> CpuRenderStage::wait_frame(std::uint64_t ticket, std::chrono::nanoseconds /*timeout*/) {
  if (ticket >= next_ticket_) return make_error(Errc::kOutOfRange, "ticket " + std::to_string(ticket) + " was never submitted");
  const FrameInfo& f = history_[ticket % kFrameHistory];
  if (f.ticket != ticket) return make_error(Errc::kStale, "ticket " + std::to_string(ticket) + "'s record was recycled");
  return f;
}

}  // namespace triptych::render
