// SPDX-License-Identifier: Apache-2.0
// The copy-based baseline's native half: host_frame() copies a frame the host
// computed elsewhere into the compute write slot and publishes it (kCopyIn has
// no frame loop); copy_result() copies the newest finished frame's pixels out
// for the host (host_presents) and stamps it presented. Both copy on purpose:
// they measure what the zero-copy path saves. Non-blocking. Host thread only
// (settle_untaken_result from stop(), also the host thread). Design:
// docs/pipeline.md, "The copy-based baseline's native half".
#include <cstring>
#include <string>

#include "engine_impl.hpp"
#include "triptych_kernel.h"

namespace triptych::pipeline {

Result<std::uint64_t> Engine::host_frame(std::span<const std::byte> particles, std::uint64_t queued_ns,
                                         std::uint64_t compute_start_ns, std::uint64_t compute_end_ns) {
  Impl& m = *impl_;
  if (m.cfg.compute != ComputeBackend::kCopyIn) {
    return make_error(Errc::kInvalidArgument, "host_frame needs host-fed compute");
  }
  if (m.stop_requested.load(std::memory_order_relaxed)) {
    return make_error(Errc::kInvalidArgument, "the engine is stopping");
  }
  TripleBuffer& tb = m.arena->triple_buffer(FrameStage::kCompute);
  const std::span<std::byte> slot = tb.write_slot();
  const std::size_t bytes = std::size_t{m.cfg.particles} * sizeof(tp_particle);
  if (particles.size() != bytes) {
    return make_error(Errc::kInvalidArgument, "a frame is " + std::to_string(bytes) + " bytes (" +
                                                  std::to_string(m.cfg.particles) + " particles), got " +
                                                  std::to_string(particles.size()));
  }
  if (!(queued_ns <= compute_start_ns && compute_start_ns <= compute_end_ns)) {
    return make_error(Errc::kInvalidArgument, "stamps must satisfy queued <= compute start <= compute end");
  }
  const std::uint64_t frame = m.table->begin_frame(queued_ns);
  m.issued.fetch_add(1, std::memory_order_relaxed);
  (void)m.table->stamp(frame, trace::Stage::kComputeStart, compute_start_ns);
  (void)m.table->stamp(frame, trace::Stage::kComputeEnd, compute_end_ns);
  std::memcpy(slot.data(), particles.data(), bytes);  // the copy this mode exists to measure
  m.frame_particles[frame % kDivisorRing].store(m.cfg.particles, std::memory_order_relaxed);
  if (m.publish_compute(frame, m.cfg.particles) != nullptr) return make_error(Errc::kCorruptHeader, "corrupt compute triple buffer");
  return frame;
}

Result<std::optional<std::uint64_t>> Engine::copy_result(std::span<std::byte> pixels) {
  Impl& m = *impl_;
  if (!m.cfg.host_presents) return make_error(Errc::kInvalidArgument, "copy_result needs host_presents");
  const std::size_t bytes = std::size_t{m.cfg.width} * m.cfg.height * 4;
  if (pixels.size() < bytes) {
    return make_error(Errc::kTooSmall, "the pixel buffer needs " + std::to_string(bytes) + " bytes");
  }
  TripleBuffer& result_tb = m.arena->triple_buffer(FrameStage::kResult);
  const TripleBuffer::Frame f = result_tb.acquire_latest();
  if (!f.is_new) return std::optional<std::uint64_t>{};
  // The zone header is ours, but read once and checked like any arena bytes.
  const auto geometry = render::read_result_zone(f.data);
  if (!geometry || geometry->width != m.cfg.width || geometry->height != m.cfg.height) {
    return make_error(Errc::kCorruptHeader, "the result zone's header does not describe its image");
  }
  std::memcpy(pixels.data(), f.data.data() + geometry->pixel_offset, bytes);
  const std::uint32_t r = result_tb.indices().reader;
  if (!m.slot_index_ok(r, "result reader")) return make_error(Errc::kCorruptHeader, "corrupt result triple buffer");
  const std::uint64_t frame = m.result_frame[r];
  m.mark_presented(frame);
  return std::optional<std::uint64_t>{frame};
}

// host_presents, from stop(): a frame the host never took before the run
// ended was rendered but never shown: dropped, so issued = presented +
// dropped + failed + in flight holds at the end too. Once only.
void Engine::Impl::settle_untaken_result() {
  if (!cfg.host_presents || !started.load(std::memory_order_relaxed) ||
      result_settled.exchange(true, std::memory_order_relaxed)) {
    return;
  }
  TripleBuffer& result_tb = arena->triple_buffer(FrameStage::kResult);
  if (result_tb.has_new() && result_tb.acquire_latest().is_new) {
    const std::uint32_t r = result_tb.indices().reader;
    if (slot_index_ok(r, "result reader")) drop_frame(result_frame[r]);
  }
}

}  // namespace triptych::pipeline
