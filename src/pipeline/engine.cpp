// SPDX-License-Identifier: Apache-2.0
// The frame pipeline behind include/triptych/pipeline/engine.hpp: frame-loop
// thread (pacing, compute dispatch, compute publish), render thread (layout +
// GPU + readback + present), both pinned per the core plan. Blocking; control
// calls from one host thread. Design, orderings and failure behaviour:
// docs/pipeline.md.
#include "triptych/pipeline/engine.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>

#include "triptych/render/cpu_stage.hpp"
#include "triptych/render/image.hpp"
#include "triptych/render/vulkan_renderer.hpp"
#include "triptych/trace/clock.hpp"
#include "triptych/report/counters.hpp"
#include "triptych/report/export.hpp"
#include "triptych/trace/trace.hpp"
#include "triptych/trace/zones.hpp"

namespace triptych::pipeline {
namespace {

using namespace std::chrono_literals;

// How long a blocked thread sleeps before re-checking the stop flag: the
// liveness re-check every peer-dependent wait has (CONVENTIONS.md #10).
constexpr auto kWaitSlice = 20ms;
// A frame the GPU has not finished in this long is a hang: the run fails.
constexpr auto kRenderTimeout = 20s;
// Margin by which a just-in-time frame should be ready before render frees up.
constexpr std::uint64_t kJustInTimeSlackNs = 500'000;
// Recent end-to-end latencies kept for the live status line.
constexpr std::size_t kRecent = 256;
// Failed frames whose cause is kept for the outputs; later ones are counted.
constexpr std::size_t kKeptFailures = 256;

std::uint32_t trace_capacity_for(const EngineConfig& c) {
  if (c.trace_capacity != 0) return c.trace_capacity;
  const std::uint64_t want = c.frames == 0 ? 65536 : c.frames + 64;
  std::uint32_t cap = 1024;
  while (cap < want && cap < (1u << 20)) cap <<= 1;
  return cap;
}

Result<void> pin_current_thread(const sched::CpuSet& cpus, const char* name) {
  pthread_setname_np(pthread_self(), name);
  if (cpus.empty()) return {};
  cpu_set_t set;
  CPU_ZERO(&set);
  for (std::uint32_t cpu : cpus) CPU_SET(static_cast<std::size_t>(cpu), &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
    return make_error(Errc::kSystem, std::string("cannot pin ") + name + " to CPUs " + cpus.to_string());
  }
  return {};
}

// The frame loop's CPU priority. On small machines it shares a core with the
// render thread (docs/scheduler.md); without a higher weight, CFS lets a busy
// render thread delay the loop's wake-up to the next scheduler tick (4 ms at
// HZ=250). A nice value below 0 needs CAP_SYS_NICE: without it we go on at
// the default priority and say so in the report.
constexpr int kFrameLoopNice = -10;

std::string raise_frame_loop_priority() {
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  if (setpriority(PRIO_PROCESS, tid, kFrameLoopNice) == 0) return "nice " + std::to_string(kFrameLoopNice);
  return std::string("default (nice ") + std::to_string(kFrameLoopNice) + " refused: " + std::strerror(errno) + ")";
}

void sleep_until(std::uint64_t deadline_ns) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(deadline_ns / 1'000'000'000u);
  ts.tv_nsec = static_cast<long>(deadline_ns % 1'000'000'000u);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

}  // namespace

struct Engine::Impl {
  EngineConfig cfg;
  std::optional<ExternalMemory> ext;
  std::optional<Arena> arena;
  std::unique_ptr<sched::Pool> compute_pool;
  std::unique_ptr<sched::Pool> render_pool;
  sched::AffinityPartitioner partitioner;
  std::unique_ptr<render::VulkanRenderer> vulkan;
  std::unique_ptr<render::CpuRenderStage> cpu;
  trace::FrameTraceTable* table = nullptr;
  tp_kernel_ctx* ctx = nullptr;      // where kernels read the frame context
  tp_kernel_ctx own_ctx{};           // kNative: the context lives here
  std::uint64_t ctx_address = 0;     // ctx as an address in the kernel's memory
  std::uint64_t period_ns = 0;       // 0: as fast as possible

  // Compute slot -> frame id. Written by the frame loop before publish and
  // read by the render thread after acquire_latest: the triple buffer's
  // acq_rel exchanges order these plain accesses like the slot bytes.
  std::array<std::uint64_t, 3> slot_frame{};
  std::array<std::uint64_t, 3> result_frame{};  // likewise for the result buffer

  std::thread loop_thread;
  std::thread render_thread;
  std::atomic<bool> started{false};
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> loop_done{false};
  WaitWord consumed;  // bumped by render after taking a compute frame (kWait pacing)
  // Just-in-time dispatch estimates (kWait): when render took its current
  // frame (0: idle) and how long a render takes; the loop's compute time.
  std::atomic<std::uint64_t> render_busy_since{0};
  std::atomic<std::uint64_t> ema_render_ns{0};
  std::uint64_t ema_compute_ns = 0;  // frame loop only
  WaitWord finished;  // 1 once both threads are done

  // Compute failures of the frame in progress (any member thread).
  std::atomic<bool> frame_failed{false};
  // The frame being dispatched (1-based). Written before the pool's dispatch,
  // which publishes it to the members like the context (release on push,
  // acquire on take), so relaxed suffices.
  std::atomic<std::uint64_t> dispatch_frame{0};
  mutable std::mutex message_mu;  // failure path and status only, never per frame
  std::string last_failure;
  std::string frame_cause;  // the first failure recorded for the frame in progress
  std::vector<trace::FrameFailure> failure_log;  // the first kKeptFailures failed frames
  std::uint64_t failures_not_kept = 0;
  std::string fatal;
  // abandon_compute()'s member, which completes every chunk left as failed.
  std::thread drainer;
  std::atomic<bool> draining{false};
  std::atomic<bool> result_settled{false};  // host_presents: the untaken last frame is counted

  std::atomic<std::uint64_t> issued{0}, computed{0}, failed{0}, dropped{0}, presented{0}, late{0};
  std::atomic<std::uint64_t> particles_rejected{0}, particles_clamped{0};  // render thread writes
  std::string frame_loop_priority;  // written by the frame loop before it starts frames
  std::uint64_t start_ns = 0;
  std::array<std::atomic<std::uint64_t>, kRecent> recent_latency{};
  std::array<std::atomic<std::uint64_t>, kRecent> recent_presented{};
  std::atomic<std::uint64_t> recent_count{0};

  trace::ProcessProbe process;

  void set_fatal(const std::string& message) {
    std::lock_guard<std::mutex> lock(message_mu);
    if (fatal.empty()) fatal = message;
    stop_requested.store(true, std::memory_order_release);
  }

  void record_failure(const std::string& message) {
    frame_failed.store(true, std::memory_order_release);
    std::lock_guard<std::mutex> lock(message_mu);
    last_failure = message;
    if (frame_cause.empty()) frame_cause = message;
  }

  // Counts `frame` failed, flags its record and keeps its cause (or the
  // first failure recorded while it ran).
  void fail_frame(std::uint64_t frame, const std::string& cause) {
    failed.fetch_add(1, std::memory_order_relaxed);
    (void)table->mark_failed(frame);
    std::lock_guard<std::mutex> lock(message_mu);
    std::string why = cause.empty() ? frame_cause : cause;
    if (why.empty()) why = "failed (no cause recorded)";
    if (failure_log.size() < kKeptFailures) {
      failure_log.push_back(trace::FrameFailure{frame, std::move(why)});
    } else {
      ++failures_not_kept;
    }
  }

  // Wakes members parked in take() (a no-op task each runs and hands back),
  // so they see the engine finished now rather than at their timeout.
  void wake_members() noexcept {
    if (cfg.compute != ComputeBackend::kExternal) return;
    try {
      for (std::uint32_t i = 0; i < cfg.workers; ++i) (void)compute_pool->submit([] {});
    } catch (...) {  // out of memory: members still see the end at their next timeout
    }
  }

  // Counts a computed frame that will never be shown dropped and flags it.
  void drop_frame(std::uint64_t frame) {
    dropped.fetch_add(1, std::memory_order_relaxed);
    (void)table->mark_dropped(frame);
  }

  std::span<std::byte> zone(ZoneId id) const { return arena->zone(id); }

  // A compute slot as an offset in the kernel's memory (what kernels get).
  std::uint64_t kernel_offset_of(std::span<const std::byte> s) const {
    return static_cast<std::uint64_t>(s.data() - arena->kernel_base());
  }

  // Slot indices come from control blocks in shared memory, so each is
  // range-checked where it is used; one out of range fails the run.
  bool slot_index_ok(std::uint32_t index, const char* what) {
    if (index < 3) return true;
    set_fatal(std::string("corrupt triple buffer: ") + what + " index " + std::to_string(index) +
              " is out of range");
    return false;
  }

  // Publishes; when that overwrote an unread frame (kDrop, or a host that
  // did not take its frame), counts it dropped. The new write slot is the
  // one that held it. False (fatal) on an out-of-range index.
  bool publish_counting_drop(TripleBuffer& tb, const std::array<std::uint64_t, 3>& frames, const char* what) {
    const std::uint64_t dropped_before = tb.dropped();
    if (tb.publish() == 0) {
      set_fatal(std::string("the ") + what + " was refused a publish: its triple buffer's control block is "
                "corrupt or the role was taken over");
      return false;
    }
    if (tb.dropped() == dropped_before) return true;
    const std::uint32_t w = tb.indices().writer;
    if (!slot_index_ok(w, what)) return false;
    dropped.fetch_add(1, std::memory_order_relaxed);
    (void)table->mark_dropped(frames[w]);
    return true;
  }

  void frame_loop();
  void mark_presented(std::uint64_t frame);
  void render_loop();
  bool run_compute(std::uint64_t frame, std::uint64_t index, std::uint64_t& last_output_offset);
};

// ---- creation ---------------------------------------------------------------

Result<ArenaLayout> Engine::layout_for(const EngineConfig& c) {
  if (c.particles == 0) return make_error(Errc::kInvalidArgument, "particles must be at least 1");
  if (c.particles > (1u << 24)) {
    return make_error(Errc::kInvalidArgument, "particles " + std::to_string(c.particles) +
                                                  " exceeds the supported 16,777,216");
  }
  if (c.width == 0 || c.height == 0 || c.width > 8192 || c.height > 8192) {
    return make_error(Errc::kInvalidArgument, "resolution " + std::to_string(c.width) + "x" +
                                                  std::to_string(c.height) + " is outside 1..8192");
  }
  ArenaSpec spec;
  spec.compute_slot_bytes = std::uint64_t{c.particles} * sizeof(tp_particle);
  spec.layout_slot_bytes = render::layout_zone_bytes(c.particles);
  spec.result_slot_bytes = render::result_zone_bytes(c.width, c.height);
  const std::uint32_t workers = c.workers != 0 ? c.workers
                                               : static_cast<std::uint32_t>(c.plan.compute.threads.size());
  if (c.compute == ComputeBackend::kExternal) {
    spec.worker_stack_count = workers;
    spec.worker_stack_bytes = c.worker_stack_bytes;
    spec.kernel_static_bytes = c.kernel_static_bytes;
  }
  spec.trace_record_capacity = trace_capacity_for(c);
  return compute_layout(spec);
}

Result<std::unique_ptr<Engine>> Engine::create(EngineConfig config, std::optional<ExternalMemory> memory) {
  auto impl = std::make_unique<Impl>();
  Impl& m = *impl;
  if (!(config.hz >= 0.0) || config.hz > 1000.0) {
    return make_error(Errc::kInvalidArgument, "hz must be in [0, 1000] (0 = as fast as possible)");
  }
  if (config.grain == 0) return make_error(Errc::kInvalidArgument, "grain must be at least 1");
  if (config.compute == ComputeBackend::kHost && config.frames != 0) {
    return make_error(Errc::kInvalidArgument, "host-fed compute is driven by host_frame(); frames must be 0");
  }
  if (config.plan.compute.threads.empty() || config.plan.render.threads.empty()) {
    return make_error(Errc::kInvalidArgument, "the core plan has no compute or no render CPUs");
  }
  if (config.workers == 0) config.workers = static_cast<std::uint32_t>(config.plan.compute.threads.size());
  if (config.compute == ComputeBackend::kNative && config.native_kernel == nullptr) {
    return make_error(Errc::kInvalidArgument, "native compute needs a kernel function");
  }
  if (config.compute == ComputeBackend::kExternal && !memory) {
    return make_error(Errc::kInvalidArgument, "external (WASM) compute needs the host's memory");
  }
  auto layout = layout_for(config);
  if (!layout) return layout.error();
  m.cfg = config;
  m.ext = memory;
  m.period_ns = config.hz > 0 ? static_cast<std::uint64_t>(1e9 / config.hz) : 0;

  // The arena: our own mappings, or adopted into the host's two
  // WebAssembly.Memory objects, with the kernel zone (WASM data + stacks) at
  // the kernel's memory's address 0.
  if (memory) {
    auto a = Arena::adopt(memory->memories, layout->spec);
    if (!a) return a.error();
    m.arena.emplace(std::move(a).value());
    if (memory->ctx_address % alignof(tp_kernel_ctx) != 0 ||
        memory->ctx_address + sizeof(tp_kernel_ctx) > config.kernel_static_bytes) {
      return make_error(Errc::kOutOfRange, "kernel context address " + std::to_string(memory->ctx_address) +
                                               " is misaligned or outside the kernel's static bytes");
    }
    m.ctx = reinterpret_cast<tp_kernel_ctx*>(memory->memories.kernel + memory->ctx_address);
    m.ctx_address = memory->ctx_address;
    *m.ctx = tp_kernel_ctx{};
    m.ctx->kernel_base = 0;  // kernels address their own memory from 0
  } else {
    auto a = Arena::create_anonymous(layout->spec);
    if (!a) return a.error();
    m.arena.emplace(std::move(a).value());
    m.ctx = &m.own_ctx;
    m.ctx_address = reinterpret_cast<std::uintptr_t>(m.ctx);
    m.ctx->kernel_base = reinterpret_cast<std::uintptr_t>(m.arena->kernel_base());
  }
  m.table = m.arena->trace();
  if (m.table == nullptr) return make_error(Errc::kInvalidArgument, "the arena has no trace table");

  // Pools: compute (own pinned threads, or external slots for the Node
  // workers, who alone run chunks), render (the layout pass).
  sched::PoolConfig pc;
  pc.name = "compute";
  std::vector<std::uint32_t> compute_cpus;
  for (std::uint32_t i = 0; i < config.workers; ++i) {
    compute_cpus.push_back(config.plan.compute.threads[i % config.plan.compute.threads.size()]);
  }
  if (config.compute == ComputeBackend::kNative) {
    pc.cpus = compute_cpus;
    pc.threads = compute_cpus.size();
  } else if (config.compute == ComputeBackend::kHost) {
    pc.threads = 0;  // unused: the host computes
    pc.max_external = 1;
  } else {
    pc.threads = 0;
    pc.max_external = config.workers;
    pc.external_cpus = compute_cpus;
    pc.caller_helps = false;
  }
  auto cp = sched::Pool::create(pc);
  if (!cp) return cp.error();
  m.compute_pool = std::move(cp).value();

  sched::PoolConfig rc = sched::PoolConfig::from_plan(config.plan.render);
  rc.name = "render";
  auto rp = sched::Pool::create(rc);
  if (!rp) return rp.error();
  m.render_pool = std::move(rp).value();

  // The render stage, over the arena's layout and result zones.
  std::array<std::span<std::byte>, 3> layout_zones{m.zone(ZoneId::kLayoutA), m.zone(ZoneId::kLayoutB),
                                                   m.zone(ZoneId::kLayoutC)};
  std::array<std::span<std::byte>, 3> result_zones{m.zone(ZoneId::kResultA), m.zone(ZoneId::kResultB),
                                                   m.zone(ZoneId::kResultC)};
  for (auto& z : result_zones) {
    if (auto ok = render::init_result_zone(z, config.width, config.height); !ok) return ok.error();
  }
  render::LayoutParams lp;
  lp.width = config.width;
  lp.height = config.height;
  // World [-1, 1]² fills the shorter side, centred.
  lp.scale = 0.5F * static_cast<float>(std::min(config.width, config.height));
  lp.origin_x = -static_cast<float>(config.width) / (2.0F * lp.scale);
  lp.origin_y = -static_cast<float>(config.height) / (2.0F * lp.scale);
  lp.velocity_scale = 1.0F / 60.0F;
  const std::array<float, 4> clear{0.02F, 0.02F, 0.05F, 1.0F};
  sched::Pool* render_pool = m.render_pool.get();
  render::ParallelFor pool_for = [render_pool](std::uint32_t tasks,
                                               const std::function<void(std::uint32_t)>& body) {
    render_pool->parallel_for(0, tasks, 1, [&body](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) body(static_cast<std::uint32_t>(i));
    });
  };
  if (config.renderer == RendererKind::kVulkan) {
    render::VulkanRendererConfig vc;
    vc.layout = lp;
    vc.frames_in_flight = 1;  // the result triple buffer owns one write slot at a time
    vc.layout_tasks = static_cast<std::uint32_t>(config.plan.render.threads.size());
    if (config.staging) {
      vc.layout_path = render::HostMemoryPath::kStaging;
      vc.result_path = render::HostMemoryPath::kStaging;
    }
    vc.pool = pool_for;
    vc.clear_color = clear;
    vc.vulkan.validation = config.validation;
    vc.vulkan.device.name = config.device;
    vc.vulkan.device.index = config.device_index;
    if (config.validation) {
      Impl* self = impl.get();
      vc.vulkan.on_validation_message = [self](const std::string& msg) {
        self->set_fatal("Vulkan validation: " + msg);
      };
    }
    auto r = render::VulkanRenderer::create(vc, layout_zones, result_zones);
    if (!r) return r.error();
    m.vulkan = std::move(r).value();
  } else {
    auto r = render::CpuRenderStage::create(lp, clear, layout_zones, result_zones);
    if (!r) return r.error();
    m.cpu = std::move(r).value();
  }
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Engine::Engine(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

Engine::~Engine() { stop(); }

Arena& Engine::arena() noexcept { return *impl_->arena; }
const EngineConfig& Engine::config() const noexcept { return impl_->cfg; }

std::string Engine::renderer_description() const {
  if (impl_->vulkan) {
    const auto& d = impl_->vulkan->device();
    std::string s = "Vulkan: " + d.name + " (" + d.type + ")";
    s += impl_->vulkan->layout_binding(0).imported ? ", layout zone imported" : ", layout via staging";
    s += impl_->vulkan->result_binding(0).imported ? ", result zone imported" : ", readback via staging";
    return s;
  }
  return "CPU reference rasteriser";
}

// ---- start / stop -------------------------------------------------------------

Result<void> Engine::start() {
  Impl& m = *impl_;
  if (m.stop_requested.load(std::memory_order_acquire)) {
    return make_error(Errc::kInvalidArgument, "the engine was stopped before it started");
  }
  if (m.started.exchange(true, std::memory_order_acq_rel)) {
    return make_error(Errc::kInvalidArgument, "the engine was already started");
  }
  m.start_ns = trace::now_ns();
  m.render_thread = std::thread([&m] { m.render_loop(); });
  if (m.cfg.compute != ComputeBackend::kHost) m.loop_thread = std::thread([&m] { m.frame_loop(); });
  return {};
}

void Engine::request_stop() noexcept {
  Impl& m = *impl_;
  m.stop_requested.store(true, std::memory_order_release);
  // With host-fed compute the host is the frame loop: it is done now.
  if (m.cfg.compute == ComputeBackend::kHost) m.loop_done.store(true, std::memory_order_release);
  (void)fetch_add_and_wake(m.consumed, 1, INT_MAX);  // a loop waiting for render re-checks
  if (!m.started.load(std::memory_order_acquire)) {
    // Never started: nothing runs, so it is finished now; start() refuses.
    m.loop_done.store(true, std::memory_order_release);
    if (m.finished.value.load(std::memory_order_acquire) == 0) {
      (void)store_and_wake(m.finished, 1, INT_MAX);
      m.wake_members();
    }
  }
}

void Engine::abandon_compute(const std::string& reason) {
  Impl& m = *impl_;
  m.set_fatal(reason);
  m.record_failure(reason);
  request_stop();
  if (m.cfg.compute != ComputeBackend::kExternal || m.draining.exchange(true, std::memory_order_acq_rel)) return;
  // A native member that hands every chunk back as failed without running
  // it, so a parallel_for no worker will serve returns. It needs a free
  // member slot: it retries until a dead worker's slot is free or the loop
  // is done (the surviving members skip a failed frame's chunks themselves).
  m.drainer = std::thread([&m] {
    pthread_setname_np(pthread_self(), "tp-drainer");
    while (!m.loop_done.load(std::memory_order_acquire)) {
      auto member = m.compute_pool->join();
      if (!member) {
        std::this_thread::sleep_for(kWaitSlice);
        continue;
      }
      while (!m.loop_done.load(std::memory_order_acquire)) {
        auto job = member->take(kWaitSlice);
        if (!job) continue;
        if (!job->is_chunk()) job->run();
        m.frame_failed.store(true, std::memory_order_release);
        member->complete(std::move(*job));
      }
      member->leave();
    }
  });
}

void Engine::fail_current_frame(const std::string& cause) { impl_->record_failure(cause); }

void Engine::stop() {
  Impl& m = *impl_;
  request_stop();
  if (m.loop_thread.joinable()) m.loop_thread.join();
  if (m.render_thread.joinable()) m.render_thread.join();
  if (m.drainer.joinable()) m.drainer.join();
  // host_presents: a frame the host never took before the run ended was
  // rendered but never shown: dropped, so issued = presented + dropped +
  // failed + in flight holds at the end too.
  if (m.cfg.host_presents && m.started.load(std::memory_order_acquire) &&
      !m.result_settled.exchange(true, std::memory_order_acq_rel)) {
    TripleBuffer& result_tb = m.arena->frames(FrameStage::kResult);
    if (result_tb.has_new() && result_tb.acquire_latest().is_new) {
      const std::uint32_t r = result_tb.indices().reader;
      if (m.slot_index_ok(r, "result reader")) m.drop_frame(m.result_frame[r]);
    }
  }
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

bool Engine::started() const noexcept { return impl_->started.load(std::memory_order_acquire); }

bool Engine::finished() const noexcept {
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

// ---- the frame loop -------------------------------------------------------------

// Runs one frame's compute. Returns true when every chunk succeeded.
bool Engine::Impl::run_compute(std::uint64_t frame, std::uint64_t index, std::uint64_t& last_output_offset) {
  TripleBuffer& tb = arena->frames(FrameStage::kCompute);
  const std::uint64_t output = kernel_offset_of(tb.write_slot());
  tp_kernel_ctx& c = *ctx;
  c.abi_version = TP_KERNEL_ABI_VERSION;
  c.item_count = cfg.particles;
  c.frame_id = frame + 1;
  c.item_bytes = sizeof(tp_particle);
  const double dt = period_ns != 0 ? static_cast<double>(period_ns) * 1e-9 : 1.0 / 120.0;
  c.dt = static_cast<float>(dt);
  c.time = static_cast<float>(static_cast<double>(index) * dt);
  c.seed = cfg.seed;
  c.flags = last_output_offset == 0 ? TP_CTX_FIRST_FRAME : 0u;
  c.input_offset = last_output_offset == 0 ? output : last_output_offset;
  c.output_offset = output;
  c.reserved = 0;
  // The frame id members report comes from here, never from the context,
  // which kernels can overwrite.
  dispatch_frame.store(frame + 1, std::memory_order_relaxed);
  frame_failed.store(false, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(message_mu);
    frame_cause.clear();
  }

  // The pool's dispatch publishes ctx to the members (release on push,
  // acquire on take); for kExternal nobody but the members runs chunks.
  const NativeKernelStep kernel = cfg.native_kernel;
  Impl* self = this;
  compute_pool->parallel_for(
      0, cfg.particles, cfg.grain,
      [self, kernel, frame](std::size_t b, std::size_t e) {
        if (kernel == nullptr) return;
        const std::int32_t rc = kernel(self->ctx, static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(e));
        if (rc != 0) {
          self->record_failure("native kernel returned " + std::to_string(rc) + " at frame " +
                               std::to_string(frame + 1) + ", chunk [" + std::to_string(b) + ", " +
                               std::to_string(e) + ")");
        }
      },
      &partitioner);
  if (frame_failed.load(std::memory_order_acquire)) return false;
  last_output_offset = output;
  return true;
}

void Engine::Impl::frame_loop() {
  if (auto ok = pin_current_thread(cfg.plan.reserved, "tp-frameloop"); !ok) set_fatal(ok.error().what());
  {
    std::lock_guard<std::mutex> lock(message_mu);
    frame_loop_priority = raise_frame_loop_priority();
  }
  trace::register_thread("frame loop");
  trace::ThreadProbe probe;
  TripleBuffer& tb = arena->frames(FrameStage::kCompute);
  std::uint64_t last_output = 0;
  std::uint64_t next_deadline = trace::now_ns() + period_ns;
  for (std::uint64_t i = 0; cfg.frames == 0 || i < cfg.frames; ++i) {
    if (stop_requested.load(std::memory_order_acquire)) break;
    if (period_ns != 0) {
      sleep_until(next_deadline);
      // Absolute deadlines; when we fall behind, restart from now rather
      // than firing a burst of catch-up frames.
      next_deadline = std::max(next_deadline + period_ns, trace::now_ns());
    }
    if (cfg.lag == LagPolicy::kWait) {
      // Backpressure: hold compute until render has taken the previous frame.
      while (tb.has_new() && !stop_requested.load(std::memory_order_acquire)) {
        const std::uint32_t seen = consumed.value.load(std::memory_order_acquire);
        if (!tb.has_new()) break;
        (void)trace::timed_wait(consumed, seen, kWaitSlice);
      }
      if (stop_requested.load(std::memory_order_acquire)) break;
      // Just in time: when render is busy with the previous frame, start this
      // one so that it is ready as render frees up, not a whole render time
      // early. Otherwise a render-bound pipeline would show every frame one
      // render time stale (the overlap buys nothing when render is the
      // bottleneck). Heuristic only: estimates are relaxed EMAs.
      const std::uint64_t busy_since = render_busy_since.load(std::memory_order_relaxed);
      if (busy_since != 0) {
        const std::uint64_t render_ns = ema_render_ns.load(std::memory_order_relaxed);
        const std::uint64_t expected_free = busy_since + render_ns;
        // Slack grows with the render time, whose frame-to-frame variation
        // it absorbs: being early costs a little staleness, being late idles render.
        const std::uint64_t lead = ema_compute_ns + kJustInTimeSlackNs + render_ns / 8;
        if (expected_free > lead && expected_free - lead > trace::now_ns()) sleep_until(expected_free - lead);
      }
    }
    const std::uint64_t frame = table->begin_frame(trace::now_ns());
    issued.fetch_add(1, std::memory_order_relaxed);
    TRIPTYCH_STAMP(*table, frame, trace::Stage::kComputeStart);
    bool ok = false;
    {
      TRIPTYCH_ZONE("compute");
      ok = run_compute(frame, i, last_output);
    }
    TRIPTYCH_STAMP(*table, frame, trace::Stage::kComputeEnd);
    {
      trace::FrameSnapshot snap;
      if (table->try_read(frame, snap) == trace::ReadStatus::kOk && snap.at(trace::Stage::kComputeEnd) != 0) {
        const std::uint64_t d = snap.at(trace::Stage::kComputeEnd) - snap.at(trace::Stage::kComputeStart);
        ema_compute_ns = ema_compute_ns == 0 ? d : ema_compute_ns - ema_compute_ns / 8 + d / 8;
      }
    }
    if (!ok) {
      // A failed frame is never published, so never shown.
      fail_frame(frame, {});
      continue;
    }
    const std::uint32_t w = tb.indices().writer;
    if (!slot_index_ok(w, "compute writer")) {
      fail_frame(frame, "the compute triple buffer is corrupt");
      break;
    }
    slot_frame[w] = frame;
    if (!publish_counting_drop(tb, slot_frame, "compute writer")) {
      fail_frame(frame, "the compute triple buffer refused the publish");
      break;
    }
    computed.fetch_add(1, std::memory_order_relaxed);
  }
  // The render thread notices within one kWaitSlice: it waits on the compute
  // buffer's publish word, which only a publish may bump.
  loop_done.store(true, std::memory_order_release);
  (void)probe.finish();  // records this thread's counters for the report
}

// ---- the render thread -------------------------------------------------------------

void Engine::Impl::render_loop() {
  if (auto ok = pin_current_thread(cfg.plan.render.cpus, "tp-render"); !ok) set_fatal(ok.error().what());
  trace::register_thread("render");
  trace::ThreadProbe probe;
  TripleBuffer& compute_tb = arena->frames(FrameStage::kCompute);
  TripleBuffer& result_tb = arena->frames(FrameStage::kResult);
  std::uint64_t ticket = 0;
  for (;;) {
    if (!compute_tb.has_new()) {
      // Leave only once the loop is done (it stops promptly on a stop
      // request) and its last publish has been taken: every computed frame
      // is then presented or counted dropped. The loop's release of loop_done
      // follows its last publish, so the re-check below sees that frame.
      if (loop_done.load(std::memory_order_acquire)) {
        if (!compute_tb.has_new()) break;
        continue;
      }
      WaitWord& published = compute_tb.control().publish_word;
      (void)trace::timed_wait(published, published.value.load(std::memory_order_acquire), kWaitSlice,
                              SpinPolicy{}, trace::WaitKind::kIdle);
      continue;
    }
    const TripleBuffer::Frame input = compute_tb.acquire_latest();
    if (!input.is_new) continue;
    const std::uint32_t r = compute_tb.indices().reader;
    if (!slot_index_ok(r, "compute reader")) break;
    const std::uint64_t frame = slot_frame[r];
    const std::uint64_t taken_ns = trace::now_ns();
    render_busy_since.store(taken_ns, std::memory_order_relaxed);
    (void)fetch_add_and_wake(consumed, 1, 1);

    render::FrameInput in;
    in.frame = frame;
    in.compute_slot = input.data;
    in.particle_count = cfg.particles;
    in.layout_zone = static_cast<std::uint32_t>(ticket % 3);
    in.result_zone = result_tb.indices().writer;
    if (!slot_index_ok(in.result_zone, "result writer")) {
      drop_frame(frame);
      break;
    }
    ++ticket;
    auto render_frame = [&]() -> Result<render::FrameInfo> {
      TRIPTYCH_ZONE("render");
      if (vulkan) {
        auto t = vulkan->submit(in);
        if (!t) return t.error();
        return vulkan->wait_frame(t.value(), kRenderTimeout);
      }
      auto t = cpu->submit(in);
      if (!t) return t.error();
      return cpu->wait_frame(t.value(), kRenderTimeout);
    };
    const Result<render::FrameInfo> info = render_frame();
    if (!info) {
      fail_frame(frame, std::string("render failed: ") + info.error().what());
      set_fatal("render failed at frame " + std::to_string(frame + 1) + ": " + info.error().what());
      break;
    }
    particles_rejected.fetch_add(info->stats.dropped(), std::memory_order_relaxed);
    particles_clamped.fetch_add(info->stats.clamped, std::memory_order_relaxed);
    (void)table->stamp(frame, trace::Stage::kRenderStart, static_cast<std::uint64_t>(info->render_start_ns));
    (void)table->stamp(frame, trace::Stage::kRenderEnd, static_cast<std::uint64_t>(info->render_end_ns));
    {
      const std::uint64_t d = trace::now_ns() - taken_ns;
      const std::uint64_t e = ema_render_ns.load(std::memory_order_relaxed);
      ema_render_ns.store(e == 0 ? d : e - e / 8 + d / 8, std::memory_order_relaxed);
      render_busy_since.store(0, std::memory_order_relaxed);
    }
    result_frame[in.result_zone] = frame;
    if (cfg.host_presents) {
      // The host copies frames out and stamps them; one it never took before
      // this one replaced it was rendered but never shown: dropped.
      if (!publish_counting_drop(result_tb, result_frame, "result writer")) break;
      continue;
    }
    if (result_tb.publish() == 0) {
      fail_frame(frame, "render failed: the result triple buffer refused the publish");
      set_fatal("the result writer was refused a publish: its triple buffer's control block is corrupt or "
                "the role was taken over");
      break;
    }
    // Present: headless, the engine itself is the result buffer's reader; the
    // frame it takes is the one a window or UI would show.
    (void)result_tb.acquire_latest();
    mark_presented(frame);
  }
  stop_requested.store(true, std::memory_order_release);
  (void)fetch_add_and_wake(consumed, 1, INT_MAX);
  (void)probe.finish();  // records this thread's counters for the report
  // Wait for the loop before saying "finished": it may still be dispatching.
  while (!loop_done.load(std::memory_order_acquire)) {
    (void)wait(consumed, consumed.value.load(std::memory_order_acquire), kWaitSlice);
  }
  // After a render failure the loop may have published a frame nobody will
  // render: it was computed, never shown, so it is dropped (never unaccounted).
  if (compute_tb.has_new() && compute_tb.acquire_latest().is_new) {
    const std::uint32_t r = compute_tb.indices().reader;
    if (slot_index_ok(r, "compute reader")) drop_frame(slot_frame[r]);
  }
  (void)store_and_wake(finished, 1, INT_MAX);
}

void Engine::Impl::mark_presented(std::uint64_t frame) {
  const std::uint64_t now = trace::now_ns();
  (void)table->stamp(frame, trace::Stage::kPresented, now);
  presented.fetch_add(1, std::memory_order_relaxed);
  trace::FrameSnapshot snap;
  if (table->try_read(frame, snap) == trace::ReadStatus::kOk) {
    const std::uint64_t latency = now - snap.at(trace::Stage::kQueued);
    if (period_ns != 0 && latency > period_ns) late.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t n = recent_count.load(std::memory_order_relaxed);
    recent_latency[n % kRecent].store(latency, std::memory_order_relaxed);
    recent_presented[n % kRecent].store(now, std::memory_order_relaxed);
    recent_count.store(n + 1, std::memory_order_release);
  }
}

// ---- host-fed compute and host presentation (the copy-based baseline) ---------------

Result<std::uint64_t> Engine::host_frame(std::span<const std::byte> particles, std::uint64_t queued_ns,
                                         std::uint64_t compute_start_ns, std::uint64_t compute_end_ns) {
  Impl& m = *impl_;
  if (m.cfg.compute != ComputeBackend::kHost) {
    return make_error(Errc::kInvalidArgument, "host_frame needs host-fed compute");
  }
  if (m.stop_requested.load(std::memory_order_acquire)) return make_error(Errc::kInvalidArgument, "the engine is stopping");
  TripleBuffer& tb = m.arena->frames(FrameStage::kCompute);
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
  const std::uint32_t w = tb.indices().writer;
  if (!m.slot_index_ok(w, "compute writer")) return make_error(Errc::kCorruptHeader, "corrupt compute triple buffer");
  m.slot_frame[w] = frame;
  if (!m.publish_counting_drop(tb, m.slot_frame, "compute writer")) {
    return make_error(Errc::kCorruptHeader, "corrupt compute triple buffer");
  }
  m.computed.fetch_add(1, std::memory_order_relaxed);
  return frame;
}

Result<std::optional<std::uint64_t>> Engine::copy_result(std::span<std::byte> pixels) {
  Impl& m = *impl_;
  if (!m.cfg.host_presents) return make_error(Errc::kInvalidArgument, "copy_result needs host_presents");
  const std::size_t bytes = std::size_t{m.cfg.width} * m.cfg.height * 4;
  if (pixels.size() < bytes) {
    return make_error(Errc::kTooSmall, "the pixel buffer needs " + std::to_string(bytes) + " bytes");
  }
  TripleBuffer& result_tb = m.arena->frames(FrameStage::kResult);
  const TripleBuffer::Frame f = result_tb.acquire_latest();
  if (!f.is_new) return std::optional<std::uint64_t>{};
  // The zone header is ours, but checked like any arena bytes before use.
  const auto* h = reinterpret_cast<const render::ResultZoneHeader*>(f.data.data());
  if (h->width != m.cfg.width || h->height != m.cfg.height || h->row_bytes != m.cfg.width * 4 ||
      std::uint64_t{h->pixel_offset} + bytes > f.data.size()) {
    return make_error(Errc::kCorruptHeader, "the result zone's header does not describe its image");
  }
  std::memcpy(pixels.data(), f.data.data() + h->pixel_offset, bytes);
  const std::uint32_t r = result_tb.indices().reader;
  if (!m.slot_index_ok(r, "result reader")) return make_error(Errc::kCorruptHeader, "corrupt result triple buffer");
  const std::uint64_t frame = m.result_frame[r];
  m.mark_presented(frame);
  return std::optional<std::uint64_t>{frame};
}

// ---- external compute members ---------------------------------------------------------

Result<ComputeMember> Engine::join_compute() {
  if (impl_->cfg.compute != ComputeBackend::kExternal) {
    return make_error(Errc::kInvalidArgument, "this engine computes natively; it has no external slots");
  }
  auto member = impl_->compute_pool->join();
  if (!member) return member.error();
  return ComputeMember(this, std::move(member).value());
}

ComputeMember::~ComputeMember() { leave(); }

std::optional<ComputeJob> ComputeMember::take(std::chrono::nanoseconds timeout) {
  if (left_ || job_) return std::nullopt;
  Engine::Impl& m = *engine_->impl_;
  if (m.loop_done.load(std::memory_order_acquire)) return std::nullopt;  // no chunk will come
  auto job = member_.take(timeout);
  if (!job) return std::nullopt;
  if (!job->is_chunk()) {  // not ours to interpret: run it natively and look again
    job->run();
    member_.complete(std::move(*job));
    return std::nullopt;
  }
  // A chunk of a frame that already failed (a trap, a passed deadline, a lost
  // worker) is handed back unrun: the frame is never shown, and a kernel that
  // hangs on it must not cost another deadline. SYNC(frame-failed): acquire
  // pairs with record_failure's release.
  if (m.frame_failed.load(std::memory_order_acquire)) {
    member_.complete(std::move(*job));
    return std::nullopt;
  }
  ComputeJob out;
  out.begin = static_cast<std::uint32_t>(job->begin());
  out.end = static_cast<std::uint32_t>(job->end());
  out.frame = m.dispatch_frame.load(std::memory_order_relaxed);
  out.ctx_address = m.ctx_address;
  job_ = std::move(job);
  return out;
}

void ComputeMember::complete(std::int32_t status, const std::string& message) {
  if (!job_) return;
  if (status != 0) {
    Engine::Impl& m = *engine_->impl_;
    m.record_failure(message.empty() ? "kernel returned " + std::to_string(status) + " at frame " +
                                           std::to_string(m.dispatch_frame.load(std::memory_order_relaxed)) + ", chunk [" +
                                           std::to_string(job_->begin()) + ", " + std::to_string(job_->end()) + ")"
                                     : message);
  }
  // record_failure's release store happens before the chunk's completion,
  // which the frame loop acquires when parallel_for returns.
  member_.complete(std::move(*job_));
  job_.reset();
}

void ComputeMember::leave(const std::string& reason) {
  if (left_) return;
  if (job_) complete(-1, reason);
  member_.leave();
  left_ = true;
}

// ---- status and outputs ------------------------------------------------------------

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
  const std::uint64_t settled = s.presented + s.dropped + s.failed;
  s.in_flight = s.issued > settled ? s.issued - settled : 0;
  s.running = m.started.load(std::memory_order_acquire) && !finished();
  const std::uint64_t now = trace::now_ns();
  s.elapsed_s = m.start_ns == 0 ? 0.0 : static_cast<double>(now - m.start_ns) * 1e-9;
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
  std::lock_guard<std::mutex> lock(m.message_mu);
  s.error = m.fatal;
  s.last_failure = m.last_failure;
  return s;
}

Result<void> Engine::write_outputs(const Outputs& out,
                                   const std::vector<std::pair<std::string, std::string>>& run_config) {
  Impl& m = *impl_;
  trace::TraceReport report = trace::collect_report(*m.table);
  report.title = "triptych run";
  report.threads = trace::collect_threads();
  report.process = m.process.finish();
  report.has_process = true;
  if (const std::string note = trace::hw_counters_note(); !note.empty()) report.notes.push_back(note);
  report.config = run_config;
  report.config.emplace_back("renderer", renderer_description());
  report.config.emplace_back("particles rejected by validation",
                             std::to_string(m.particles_rejected.load(std::memory_order_relaxed)));
  report.config.emplace_back("particles clamped", std::to_string(m.particles_clamped.load(std::memory_order_relaxed)));
  {
    std::lock_guard<std::mutex> lock(m.message_mu);
    report.config.emplace_back("frame loop priority", m.frame_loop_priority);
    report.failures = m.failure_log;
    report.failures_not_kept = m.failures_not_kept;
  }
  if (!out.trace_json.empty()) {
    if (auto ok = trace::write_chrome_trace_file(report, out.trace_json); !ok) return ok;
  }
  if (!out.frames_csv.empty()) {
    if (auto ok = trace::write_frames_csv_file(report, out.frames_csv); !ok) return ok;
  }
  if (!out.stats_json.empty()) {
    if (auto ok = trace::write_stats_json_file(report, out.stats_json); !ok) return ok;
  }
  if (!out.report_html.empty()) {
    if (auto ok = trace::write_html_report_file(report, out.report_html); !ok) return ok;
  }
  if (!out.snapshot_png.empty()) {
    // The front of the result buffer: the last presented frame.
    TripleBuffer& result_tb = m.arena->frames(FrameStage::kResult);
    const std::uint32_t front_index = result_tb.indices().reader;
    if (front_index >= 3) return make_error(Errc::kCorruptHeader, "corrupt result triple buffer: reader index out of range");
    const auto front = m.arena->zone(static_cast<ZoneId>(static_cast<std::uint32_t>(ZoneId::kResultA) + front_index));
    auto image = render::image_from_result_zone(front);
    if (!image) return image.error();
    if (auto ok = render::write_png(out.snapshot_png, image.value()); !ok) return ok;
  }
  return {};
}

std::string Engine::summary_table() const {
  const Impl& m = *impl_;
  const trace::TraceReport report = trace::collect_report(*m.table);
  const trace::FrameStats& st = report.stats;
  std::ostringstream os;
  char line[160];
  std::snprintf(line, sizeof(line), "%-22s %8s %9s %9s %9s %9s %9s\n", "stage (ms)", "count", "mean",
                "p50", "p99", "max", "stddev");
  os << line;
  for (std::size_t i = 0; i < trace::kSegmentCount; ++i) {
    const auto seg = static_cast<trace::Segment>(i);
    const trace::DurationStats& d = st[seg];
    std::snprintf(line, sizeof(line), "%-22s %8llu %9.3f %9.3f %9.3f %9.3f %9.3f\n",
                  std::string(trace::segment_name(seg)).c_str(), static_cast<unsigned long long>(d.count),
                  d.mean_ns * 1e-6, static_cast<double>(d.p50_ns) * 1e-6, static_cast<double>(d.p99_ns) * 1e-6,
                  static_cast<double>(d.max_ns) * 1e-6, d.stddev_ns * 1e-6);
    os << line;
  }
  std::snprintf(line, sizeof(line),
                "frames: issued %llu, presented %llu, late %llu, dropped %llu, failed %llu, in flight %llu\n",
                static_cast<unsigned long long>(m.issued.load(std::memory_order_relaxed)),
                static_cast<unsigned long long>(m.presented.load(std::memory_order_relaxed)),
                static_cast<unsigned long long>(m.late.load(std::memory_order_relaxed)),
                static_cast<unsigned long long>(m.dropped.load(std::memory_order_relaxed)),
                static_cast<unsigned long long>(m.failed.load(std::memory_order_relaxed)),
                static_cast<unsigned long long>(status().in_flight));
  os << line;
  std::snprintf(line, sizeof(line), "particles: rejected by validation %llu, clamped %llu\n",
                static_cast<unsigned long long>(m.particles_rejected.load(std::memory_order_relaxed)),
                static_cast<unsigned long long>(m.particles_clamped.load(std::memory_order_relaxed)));
  os << line;
  return os.str();
}

}  // namespace triptych::pipeline
