// SPDX-License-Identifier: Apache-2.0
// The engine's lifecycle behind include/triptych/pipeline/engine.hpp:
// create() in named steps (validate the config, build the arena, the pools
// and the render stage), start/stop, and the live status. Blocking only in
// stop() and wait_finished(); control calls from one host thread, status(),
// started(), finished() and failure_causes() from any. The threads live in
// frame_loop.cpp and render_loop.cpp, the state they share in
// engine_impl.hpp. Design, orderings and failure behaviour: docs/pipeline.md.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <mutex>
#include <type_traits>

#include "engine_impl.hpp"
#include "triptych/pipeline/run_options.hpp"
#include "triptych/render/scene.hpp"
#include "triptych/sched/pinning.hpp"
#include "triptych/trace/clock.hpp"
#include "triptych_kernel.h"

namespace triptych::pipeline {

// Kernels write tp_particle (kernels/sdk/triptych_kernel.h) into the compute
// slots; the render stage reads the same bytes as render::Particle. This is
// the one file that sees both declarations, so it ties them together.
static_assert(std::is_standard_layout_v<tp_particle> && std::is_trivially_copyable_v<tp_particle>,
              "PROTOCOL: tp_particle is plain bytes, so offsetof below is meaningful");
static_assert(sizeof(render::Particle) == sizeof(tp_particle),
              "PROTOCOL: render::Particle and tp_particle are one 32-byte record");
static_assert(alignof(render::Particle) == alignof(tp_particle),
              "PROTOCOL: render::Particle and tp_particle are one record: same alignment");
static_assert(offsetof(render::Particle, x) == offsetof(tp_particle, x) &&
                  offsetof(render::Particle, y) == offsetof(tp_particle, y),
              "PROTOCOL: the layout pass reads the position where kernels write it");
static_assert(offsetof(render::Particle, vx) == offsetof(tp_particle, vx) &&
                  offsetof(render::Particle, vy) == offsetof(tp_particle, vy),
              "PROTOCOL: the layout pass reads the velocity where kernels write it");
static_assert(offsetof(render::Particle, size) == offsetof(tp_particle, size),
              "PROTOCOL: the layout pass reads the size where kernels write it");
static_assert(offsetof(render::Particle, rgba) == offsetof(tp_particle, rgba),
              "PROTOCOL: the layout pass reads the colour where kernels write it");
static_assert(offsetof(render::Particle, shape) == offsetof(tp_particle, shape),
              "PROTOCOL: the layout pass reads the shape id where kernels write it");
static_assert(offsetof(render::Particle, reserved) == offsetof(tp_particle, reserved),
              "PROTOCOL: the reserved word sits at the same offset in both declarations");
static_assert(static_cast<std::uint32_t>(render::Shape::kCircle) == TP_SHAPE_CIRCLE &&
                  static_cast<std::uint32_t>(render::Shape::kRoundedRect) == TP_SHAPE_ROUNDED_RECT &&
                  static_cast<std::uint32_t>(render::Shape::kLine) == TP_SHAPE_LINE,
              "PROTOCOL: kernels and the layout pass agree on the shape ids");

namespace {

using namespace std::chrono_literals;

std::uint32_t trace_capacity_for(const EngineConfig& c) {
  if (c.trace_capacity != 0) return c.trace_capacity;
  std::uint64_t want = 65536;  // until stop(), or as fast as possible for `seconds`
  if (c.frames != 0) want = c.frames + 64;
  else if (c.seconds > 0 && c.hz > 0) want = static_cast<std::uint64_t>(c.seconds * c.hz) + 64;
  std::uint32_t cap = 1024;
  while (cap < want && cap < (1u << 20)) cap <<= 1;
  return cap;
}

// The rules beyond each option's range (run_options.hpp); fills in the
// worker count.
Result<void> validate_config(EngineConfig& config) {
  if (auto ok = check_engine_config(config); !ok) return ok.error();
  if (config.compute == ComputeBackend::kCopyIn && config.frames != 0) {
    return make_error(Errc::kInvalidArgument, "host-fed compute is driven by host_frame(); frames must be 0");
  }
  if (config.plan.compute.threads.empty() || config.plan.render.threads.empty()) {
    return make_error(Errc::kInvalidArgument, "the core plan has no compute or no render CPUs");
  }
  if (config.workers == 0) config.workers = static_cast<std::uint32_t>(config.plan.compute.threads.size());
  if (config.adaptive_plan && !(config.adaptive_constants.min_gain > 0 && config.adaptive_constants.min_gain < 1)) {
    return make_error(Errc::kInvalidArgument, "the adaptive core plan's min_gain must lie in (0, 1), got " +
                                                  std::to_string(config.adaptive_constants.min_gain));
  }
  if (config.compute == ComputeBackend::kNative && config.native_kernel == nullptr) {
    return make_error(Errc::kInvalidArgument, "native compute needs a kernel function");
  }
  return {};
}

// The arena spec for a checked config.
ArenaSpec arena_spec_for(const EngineConfig& c) {
  ArenaSpec spec;
  spec.compute_slot_bytes = std::uint64_t{c.particles} * sizeof(tp_particle);
  spec.layout_slot_bytes = render::layout_zone_bytes(c.particles);
  spec.result_slot_bytes = render::result_zone_bytes(c.width, c.height);
  if (c.compute == ComputeBackend::kExternal) {
    spec.worker_stack_count = c.workers;
    spec.worker_stack_bytes = c.worker_stack_bytes;
    spec.kernel_static_bytes = c.kernel_static_bytes;
  }
  spec.trace_record_capacity = trace_capacity_for(c);
  return spec;
}

// Where the layout pass puts the world: [-1, 1]² fills the shorter side, centred.
render::LayoutParams layout_params_for(const EngineConfig& config) {
  render::LayoutParams lp;
  lp.width = config.width;
  lp.height = config.height;
  lp.scale = 0.5F * static_cast<float>(std::min(config.width, config.height));
  lp.origin_x = -static_cast<float>(config.width) / (2.0F * lp.scale);
  lp.origin_y = -static_cast<float>(config.height) / (2.0F * lp.scale);
  lp.velocity_scale = 1.0F / 60.0F;
  return lp;
}

}  // namespace

// ---- creation ---------------------------------------------------------------

Result<EngineSetup> Engine::prepare(EngineConfig config) {
  if (auto ok = validate_config(config); !ok) return ok.error();
  auto zone_map = compute_zone_map(arena_spec_for(config));
  if (!zone_map) return zone_map.error();
  return EngineSetup{std::move(config), std::move(zone_map).value()};
}

Result<std::unique_ptr<Engine>> Engine::create(EngineConfig config, std::optional<ExternalMemory> memory) {
  auto setup = prepare(std::move(config));
  if (!setup) return setup.error();
  return create(std::move(setup).value(), std::move(memory));
}

Result<std::unique_ptr<Engine>> Engine::create(EngineSetup setup, std::optional<ExternalMemory> memory) {
  if (setup.config.compute == ComputeBackend::kExternal && !memory) {
    return make_error(Errc::kInvalidArgument, "external (WASM) compute needs the host's memory");
  }
  auto impl = std::make_unique<Impl>();
  Impl& m = *impl;
  m.cfg = std::move(setup.config);
  m.ext = memory;
  m.period_ns = m.cfg.hz > 0 ? static_cast<std::uint64_t>(1e9 / m.cfg.hz) : 0;
  // The governor holds frames to a period: none without one, and none for
  // the copy baseline, which measures the path as it is.
  if (m.cfg.governor && m.period_ns != 0 && m.cfg.compute != ComputeBackend::kCopyIn) {
    m.governor.emplace(m.period_ns);
    m.governor_log.reserve(kKeptDecisions);
  }
  m.particles_wanted.store(m.cfg.particles, std::memory_order_relaxed);
  m.particles_now.store(m.cfg.particles, std::memory_order_relaxed);
  m.particle_log.reserve(kKeptDecisions);
  m.compute_cpus_now = m.cfg.plan.compute.cpus;
  m.render_cpus_now = m.cfg.plan.render.cpus;
  if (m.cfg.adaptive_plan && m.cfg.compute != ComputeBackend::kCopyIn) {
    // Compute runs on its workers; render on its pool's threads and the render thread.
    m.adaptive.emplace(m.cfg.plan.compute.cpus, m.cfg.plan.render.cpus, m.cfg.workers,
                       static_cast<std::uint32_t>(m.cfg.plan.render.threads.size()) + 1, m.cfg.adaptive_constants);
    m.core_move_log.reserve(kKeptDecisions);
  }
  if (auto ok = m.build_arena(setup.zone_map); !ok) return ok.error();
  if (auto ok = m.build_pools(); !ok) return ok.error();
  if (auto ok = m.build_render_stage(); !ok) return ok.error();
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

// The arena: our own mappings, or adopted into the host's two
// WebAssembly.Memory objects, with the kernel zone (WASM data + stacks) at
// the kernel's memory's address 0. Then the kernel context and trace table.
Result<void> Engine::Impl::build_arena(const ZoneMap& zone_map) {
  if (ext) {
    auto a = Arena::adopt(ext->memories, zone_map);
    if (!a) return a.error();
    arena.emplace(std::move(a).value());
    if (ext->ctx_address % alignof(tp_kernel_ctx) != 0 ||
        ext->ctx_address + sizeof(tp_kernel_ctx) > cfg.kernel_static_bytes) {
      return make_error(Errc::kOutOfRange, "kernel context address " + std::to_string(ext->ctx_address) +
                                               " is misaligned or outside the kernel's static bytes");
    }
    ctx = reinterpret_cast<tp_kernel_ctx*>(ext->memories.kernel + ext->ctx_address);
    ctx_address = ext->ctx_address;
    *ctx = tp_kernel_ctx{};
    ctx->kernel_base = 0;  // kernels address their own memory from 0
  } else {
    auto a = Arena::create_anonymous(zone_map);
    if (!a) return a.error();
    arena.emplace(std::move(a).value());
    ctx = &own_ctx;
    ctx_address = reinterpret_cast<std::uintptr_t>(ctx);
    ctx->kernel_base = reinterpret_cast<std::uintptr_t>(arena->kernel_base());
  }
  table = arena->trace();
  if (table == nullptr) return make_error(Errc::kInvalidArgument, "the arena has no trace table");
  return {};
}

// Pools: compute (own pinned threads, or external slots for the Node workers,
// who alone run chunks), render (the layout pass).
Result<void> Engine::Impl::build_pools() {
  sched::PoolConfig pc;
  pc.name = "compute";
  std::vector<std::uint32_t> compute_cpus;
  for (std::uint32_t i = 0; i < cfg.workers; ++i) {
    compute_cpus.push_back(cfg.plan.compute.threads[i % cfg.plan.compute.threads.size()]);
  }
  if (cfg.compute == ComputeBackend::kNative) {
    pc.cpus = compute_cpus;
    pc.threads = compute_cpus.size();
  } else if (cfg.compute == ComputeBackend::kCopyIn) {
    pc.threads = 0;  // unused: the host computes
    pc.max_external = 1;
  } else {
    pc.threads = 0;
    pc.max_external = cfg.workers;
    pc.external_cpus = compute_cpus;
    pc.caller_helps = false;
  }
  auto cp = sched::Pool::create(pc);
  if (!cp) return cp.error();
  compute_pool = std::move(cp).value();

  sched::PoolConfig render_pool_config = sched::PoolConfig::from_plan(cfg.plan.render);
  render_pool_config.name = "render";
  auto rp = sched::Pool::create(render_pool_config);
  if (!rp) return rp.error();
  render_pool = std::move(rp).value();
  return {};
}

// The render stage (Vulkan or the CPU reference), over the arena's layout
// and result zones, with its layout pass on the render pool.
Result<void> Engine::Impl::build_render_stage() {
  std::array<std::span<std::byte>, 3> layout_zones{zone(ZoneId::kLayoutA), zone(ZoneId::kLayoutB),
                                                   zone(ZoneId::kLayoutC)};
  std::array<std::span<std::byte>, 3> result_zones{zone(ZoneId::kResultA), zone(ZoneId::kResultB),
                                                   zone(ZoneId::kResultC)};
  for (auto& z : result_zones) {
    if (auto ok = render::init_result_zone(z, cfg.width, cfg.height); !ok) return ok.error();
  }
  layout = layout_params_for(cfg);
  const render::LayoutParams& lp = layout;
  const std::array<float, 4> clear{0.02F, 0.02F, 0.05F, 1.0F};
  auto build_cpu = [&]() -> Result<void> {
    auto r = render::CpuRenderStage::create(lp, clear, layout_zones, result_zones);
    if (!r) return r.error();
    cpu = std::move(r).value();
    use_cpu = true;
    return {};
  };
  if (auto r = choose_present(); !r) return r.error();
  if (cfg.renderer == RendererKind::kCpu && !cfg.isolate) return build_cpu();
  if (cfg.isolate) {  // the renderer in a render process; the same in-process beside it for a fall-back
    if (auto ok = cfg.renderer == RendererKind::kVulkan ? build_vulkan(layout_zones, result_zones) : build_cpu(); !ok) {
      return ok;
    }
    return build_isolated(clear, result_zones);
  }
  // A window takes Vulkan's frames: no start-up probe against the CPU reference.
  if (cfg.renderer == RendererKind::kAuto && !window_system) {
    // Vulkan, unless the device it would take is a software rasteriser:
    // then both, and the start-up probe keeps the faster.
    const render::VulkanOptions probe;
    auto devices = render::list_devices(probe);
    const auto pick = devices ? render::choose_device(devices.value(), {cfg.device_index, cfg.device})
                              : Result<render::DevicePick>(devices.error());
    // A device asked for by name or index that is not there is an error,
    // as with --renderer vulkan; only "none at all" falls back to the CPU.
    if (!pick && (!cfg.device.empty() || cfg.device_index >= 0)) return pick.error();
    if (!pick) {
      std::lock_guard<std::mutex> lock(message_mu);
      renderer_choice = std::string("auto picked the CPU reference: no usable Vulkan device (") +
                        pick.error().what() + ")";
      return build_cpu();
    }
    const render::DeviceInfo& d = devices.value()[pick->index];
    if (d.type == "cpu") {
      if (auto ok = build_cpu(); !ok) return ok;
      if (auto ok = build_vulkan(layout_zones, result_zones); !ok) return ok;
      return probe_renderers(d.name);
    }
    std::lock_guard<std::mutex> lock(message_mu);
    renderer_choice = "auto picked Vulkan: " + d.name + " is a " + d.type + " GPU";
  }
  return build_vulkan(layout_zones, result_zones);
}

// The Vulkan stage over the arena's layout and result zones, importing the
// compute slots for the GPU particle pull where it can.
Result<void> Engine::Impl::build_vulkan(const std::array<std::span<std::byte>, 3>& layout_zones,
                                        const std::array<std::span<std::byte>, 3>& result_zones) {
  const render::LayoutParams& lp = layout;
  const std::array<float, 4> clear{0.02F, 0.02F, 0.05F, 1.0F};
  render::VulkanRendererConfig vc;
  vc.layout = lp;
  vc.frames_in_flight = cfg.frames_in_flight;
  vc.layout_tasks = static_cast<std::uint32_t>(cfg.plan.render.threads.size());
  vc.particle_path = cfg.particle_path == ParticlePath::kGpu   ? render::ParticlePath::kGpu
                     : cfg.particle_path == ParticlePath::kCpu ? render::ParticlePath::kCpu
                                                               : render::ParticlePath::kAuto;
  vc.raster = cfg.raster == RasterPath::kQuads   ? render::RasterPath::kQuads
              : cfg.raster == RasterPath::kSplat ? render::RasterPath::kSplat
                                                 : render::RasterPath::kAuto;
  vc.compute_slots = {zone(ZoneId::kComputeA), zone(ZoneId::kComputeB), zone(ZoneId::kComputeC)};
  if (cfg.staging) {  // the copy baseline: every byte goes through the CPU
    vc.layout_path = render::HostMemoryPath::kStaging;
    vc.result_path = render::HostMemoryPath::kStaging;
    vc.particle_path = render::ParticlePath::kCpu;
  }
  sched::Pool* pool = render_pool.get();
  vc.pool = [pool](std::uint32_t tasks, const std::function<void(std::uint32_t)>& body) {
    pool->parallel_for(0, tasks, 1, [&body](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) body(static_cast<std::uint32_t>(i));
    });
  };
  vc.clear_color = clear;
  vc.vulkan.validation = cfg.validation;
  vc.vulkan.device.name = cfg.device;
  vc.vulkan.device.index = cfg.device_index;
  if (cfg.validation) {
    vc.vulkan.on_validation_message = [this](const std::string& msg) { set_fatal("Vulkan validation: " + msg); };
  }
  add_window_extensions(vc);
  auto r = render::VulkanRenderer::create(vc, layout_zones, result_zones);
  if (!r) return r.error();
  vulkan = std::move(r).value();
  return attach_window();
}

std::string describe(const GovernorDecision& d, std::uint64_t start_ns) {
  char line[240];
  std::snprintf(line, sizeof line, "t=%.2fs frame %llu: %s -> %s (%s: %.1f ms of %.1f ms)",
                d.at_ns > start_ns ? static_cast<double>(d.at_ns - start_ns) * 1e-9 : 0.0,
                static_cast<unsigned long long>(d.frame + 1), describe_level(d.from_level).c_str(),
                describe_level(d.to_level).c_str(), std::string(governor_reason_text(d.reason)).c_str(),
                static_cast<double>(d.measured_ns) * 1e-6, static_cast<double>(d.budget_ns) * 1e-6);
  return line;
}

std::string describe(const CoreMove& m, std::uint64_t start_ns) {
  char line[260];
  const bool to_compute = m.reason == CoreMoveReason::kComputeSlower;
  std::snprintf(line, sizeof line, "t=%.2fs frame %llu: CPU %u %s -> now %u compute, %u render (compute %.1f ms, render %.1f ms, slower stage predicted %.1f ms)",
                m.at_ns > start_ns ? static_cast<double>(m.at_ns - start_ns) * 1e-9 : 0.0,
                static_cast<unsigned long long>(m.frame + 1), m.cpu,
                to_compute ? "render -> compute" : "compute -> render", m.compute_cpus, m.render_cpus,
                static_cast<double>(m.compute_ns) * 1e-6, static_cast<double>(m.render_ns) * 1e-6,
                static_cast<double>(m.predicted_ns) * 1e-6);
  return line;
}

std::string describe_level(std::uint32_t level) {
  const GovernorLevel& l = kGovernorLadder[level];
  std::string text = std::to_string(l.resolution_scale).substr(0, 4) + "x resolution, ";
  text += l.draw_stride == 1 ? "every particle" : "1 particle in " + std::to_string(l.draw_stride);
  text += l.rate_divisor == 1 ? ", full rate" : ", rate / " + std::to_string(l.rate_divisor);
  return text;
}

Engine::Engine(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

Engine::~Engine() { stop(); }

Arena& Engine::arena() noexcept { return *impl_->arena; }
const EngineConfig& Engine::config() const noexcept { return impl_->cfg; }

std::string Engine::renderer_description() const {
  std::string choice;
  {
    std::lock_guard<std::mutex> lock(impl_->message_mu);
    choice = impl_->renderer_choice;
  }
  const std::string present = impl_->present_choice.empty() ? "" : "; present: " + impl_->present_choice;
  if (!choice.empty()) return choice + present;
  if (impl_->isolated) {
    std::lock_guard<std::mutex> lock(impl_->message_mu);
    const std::string renderer = impl_->vulkan ? "Vulkan" : "CPU reference rasteriser";
    if (impl_->isolation_fallback.empty()) return renderer + " in a render process (--isolate)" + present;
    return renderer + ", in-process after " + impl_->isolation_fallback + present;
  }
  if (impl_->vulkan) {
    const auto& d = impl_->vulkan->device();
    std::string s = "Vulkan: " + d.name + " (" + d.type + ")";
    const auto& path = impl_->vulkan->particle_path();
    s += ", particles: " + path.why;
    s += ", raster: " + impl_->vulkan->raster_path().why;
    if (!path.gpu) s += impl_->vulkan->layout_binding(0).imported ? ", layout zone imported" : ", layout via staging";
    s += impl_->vulkan->result_binding(0).imported ? ", result zone imported" : ", readback via staging";
    s += ", " + std::to_string(impl_->cfg.frames_in_flight) + " frames in flight";
    s += ", " + impl_->vulkan->gpu_timing().why;
    return s + present;
  }
  return "CPU reference rasteriser" + present;
}

std::string Engine::raster_description() const {
  if (!impl_->vulkan) return {};
  std::lock_guard<std::mutex> lock(impl_->message_mu);
  // --renderer auto's warm-up may have kept the CPU reference, which has no raster path.
  if (impl_->renderer_choice.find("picked CPU reference") != std::string::npos) return {};
  return impl_->vulkan->raster_path().why;
}

// ---- start / stop -------------------------------------------------------------

void Engine::Impl::pin_this_thread(const sched::CpuSet& cpus, const char* name) {
  if (auto ok = sched::pin_current_thread(cpus, name); !ok) {
    set_fatal(std::string("cannot pin ") + name + " to CPUs " + cpus.to_string() + ": " + ok.error().what());
  }
}

Result<void> Engine::start() {
  Impl& m = *impl_;
  // Relaxed: start() and request_stop() come from the one host thread, so
  // program order, not these flags, orders them (started: see its declaration).
  if (m.stop_requested.load(std::memory_order_relaxed)) {
    return make_error(Errc::kInvalidArgument, "the engine was stopped before it started");
  }
  if (m.started.exchange(true, std::memory_order_relaxed)) {
    return make_error(Errc::kInvalidArgument, "the engine was already started");
  }
  m.start_ns = trace::now_ns();
  m.render_thread = std::thread([&m] { m.render_loop(); });
  if (m.cfg.compute != ComputeBackend::kCopyIn) m.loop_thread = std::thread([&m] { m.frame_loop(); });
  return {};
}

void Engine::request_stop() noexcept {
  Impl& m = *impl_;
  m.stop_requested.store(true, std::memory_order_relaxed);  // a flag: see its declaration
  // With host-fed compute the host is the frame loop: it is done now.
  // SYNC(loop-done): publishes the host's last host_frame() publish to the render thread.
  if (m.cfg.compute == ComputeBackend::kCopyIn) m.loop_done.store(true, std::memory_order_release);
  (void)fetch_add_and_wake(m.consumed, 1, INT_MAX);  // a loop waiting for render re-checks
  if (!m.started.load(std::memory_order_relaxed)) {
    // Never started: nothing runs, so it is finished now; start() refuses.
    // SYNC(loop-done): no loop ran; members that see it stop taking chunks.
    m.loop_done.store(true, std::memory_order_release);
    // SYNC(finished): acquire pairs with store_and_wake below (or the render thread's).
    if (m.finished.value.load(std::memory_order_acquire) == 0) {
      (void)store_and_wake(m.finished, 1, INT_MAX);  // SYNC(finished): publishes "nothing ran"
      m.wake_members();
    }
  }
}

void Engine::stop() {
  Impl& m = *impl_;
  request_stop();
  if (m.loop_thread.joinable()) m.loop_thread.join();
  if (m.render_thread.joinable()) m.render_thread.join();
  if (m.drainer.joinable()) m.drainer.join();
  m.settle_untaken_result();
}

std::vector<std::pair<std::uint64_t, std::string>> Engine::failure_causes(std::uint64_t& not_kept) const {
  const Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.message_mu);
  std::vector<std::pair<std::uint64_t, std::string>> out;
  out.reserve(m.failure_log.size());
  for (const auto& f : m.failure_log) out.emplace_back(f.frame, f.cause);
  not_kept = m.failures_not_kept;
  return out;
}

bool Engine::started() const noexcept { return impl_->started.load(std::memory_order_relaxed); }

bool Engine::finished() const noexcept {
  // SYNC(finished): acquire pairs with the render thread's store_and_wake, so
  // a host that saw finished() reads the run's final counts.
  return impl_->finished.value.load(std::memory_order_acquire) != 0;
}

bool Engine::wait_finished(std::chrono::nanoseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!finished()) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= 0ns) return false;
    (void)wait(impl_->finished, 0, std::min<std::chrono::nanoseconds>(left, kWaitSlice));
  }
  return true;
}

EngineStatus Engine::status() const {
  const Impl& m = *impl_;
  EngineStatus s;
  s.issued = m.issued.load(std::memory_order_relaxed);
  s.computed = m.computed.load(std::memory_order_relaxed);
  s.failed = m.failed.load(std::memory_order_relaxed);
  s.dropped = m.dropped.load(std::memory_order_relaxed);
  s.presented = m.presented.load(std::memory_order_relaxed);
  s.late = m.late.load(std::memory_order_relaxed);
  s.particles_rejected = m.particles_rejected.load(std::memory_order_relaxed);
  s.particles_clamped = m.particles_clamped.load(std::memory_order_relaxed);
  s.lost = m.lost.load(std::memory_order_relaxed);
  s.particles = m.particles_now.load(std::memory_order_relaxed);
  s.paused = m.paused.load(std::memory_order_relaxed);
  const std::uint64_t settled = s.presented + s.dropped + s.failed + s.lost;
  s.in_flight = s.issued > settled ? s.issued - settled : 0;
  s.running = m.started.load(std::memory_order_relaxed) && !finished();
  const std::uint64_t now = trace::now_ns();
  s.elapsed_s = m.start_ns == 0 ? 0.0 : static_cast<double>(now - m.start_ns) * 1e-9;
  // SYNC(recent): acquire pairs with mark_presented's release of the count.
  const std::uint64_t n = std::min<std::uint64_t>(m.recent_count.load(std::memory_order_acquire), kRecent);
  std::vector<std::uint64_t> lat;
  lat.reserve(n);
  std::uint64_t in_last_second = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    lat.push_back(m.recent_latency[i].load(std::memory_order_relaxed));
    if (now - m.recent_presented[i].load(std::memory_order_relaxed) <= 1'000'000'000u) ++in_last_second;
  }
  s.fps = static_cast<double>(in_last_second);
  if (!lat.empty()) {
    std::sort(lat.begin(), lat.end());
    s.p50_ms = static_cast<double>(lat[lat.size() / 2]) * 1e-6;
    s.p99_ms = static_cast<double>(lat[std::min(lat.size() - 1, lat.size() * 99 / 100)]) * 1e-6;
  }
  s.governor = m.governor.has_value();
  s.governor_level = m.governor_level.load(std::memory_order_relaxed);  // a setting: see its declaration
  const GovernorLevel& level = kGovernorLadder[s.governor_level];
  s.resolution_scale = level.resolution_scale;
  s.draw_stride = level.draw_stride;
  s.rate_hz = m.cfg.hz / level.rate_divisor;
  s.governor_changes = m.governor_changes.load(std::memory_order_relaxed);
  m.fill_isolation_status(s);
  std::lock_guard<std::mutex> lock(m.message_mu);
  s.error = m.fatal;
  s.last_failure = m.last_failure;
  if (!m.governor_log.empty()) s.governor_last = describe(m.governor_log.back(), m.start_ns);
  s.adaptive_plan = m.adaptive.has_value();
  s.core_moves = m.core_move_count.load(std::memory_order_relaxed);  // a count: see its declaration
  s.compute_cpus = m.compute_cpus_now.to_string();
  s.render_cpus = m.render_cpus_now.to_string();
  return s;
}

std::vector<CoreMove> Engine::core_moves() const {
  std::lock_guard<std::mutex> lock(impl_->message_mu);
  return impl_->core_move_log;
}

std::vector<std::pair<std::uint64_t, std::uint32_t>> Engine::particle_counts() const {
  std::lock_guard<std::mutex> lock(impl_->message_mu);
  return impl_->particle_log;
}

std::vector<GovernorDecision> Engine::governor_decisions() const {
  std::lock_guard<std::mutex> lock(impl_->message_mu);
  return impl_->governor_log;
}

std::string Engine::delivery_summary() const {
  const EngineStatus s = status();
  char line[200];
  std::string stride = s.draw_stride == 1 ? "every particle drawn" : "1 particle in " + std::to_string(s.draw_stride) + " drawn";
  std::snprintf(line, sizeof line, "%g Hz at %.2fx resolution, %s, %llu late of %llu presented", s.rate_hz,
                static_cast<double>(s.resolution_scale), stride.c_str(), static_cast<unsigned long long>(s.late),
                static_cast<unsigned long long>(s.presented));
  std::string out = line;
  if (!s.governor) return out + " (governor off)";
  return out + " (governor: " + std::to_string(s.governor_changes) + (s.governor_changes == 1 ? " change)" : " changes)");
}

}  // namespace triptych::pipeline
