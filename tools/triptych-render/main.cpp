// SPDX-License-Identifier: Apache-2.0
// triptych-render: isolation mode's render process. Spawned by the host's
// isolated render stage (posix_spawn + exec) with the channel as fd 3; it
// binds itself to the host, does the child handshake, reads the render
// setup from H once, builds its renderer (backend.hpp: Vulkan when the
// engine's is, else the CPU reference) over the layout and result zones in
// C, then enters its sandbox and loops: receive RENDER, render the compute slot H
// holds, seal the result (frame, epoch, generation, pixel hash; in test mode
// the frame id in every line), bump the progress word, answer DONE. It bumps
// the progress word while idle too, so only a real hang stops it.
// One thread. argv: HOST_PID [--standby] [--vulkan] [--hostile]. --vulkan: the
// engine renders with Vulkan (a standby warms it up while it waits). --standby: a warm
// standby, started ahead and waiting for its ATTACH without a deadline (the
// host attaches it when the process it stands behind dies). --hostile
// (tests only) also sends DONE for frames it was never granted (one with an
// fd), forges the other slots' seals, spoils every other result after
// sealing it, punches holes in C, storms FUTEX_WAKE and scribbles over C
// (between frames, and every 8th render right after its DONE).
// TRIPTYCH_RENDER_DIE_AT (tests only) names points where it SIGKILLs itself
// (injection.hpp). Design: docs/isolation.md, "The render process".
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "triptych/isolate/channel.hpp"
#include "triptych/isolate/child_side.hpp"
#include "triptych/isolate/grants.hpp"
#include "triptych/isolate/protocol.hpp"
#include "triptych/isolate/sandbox.hpp"
#include "triptych/isolate/render_session.hpp"
#include "backend.hpp"

#include "chaos.hpp"
#include "injection.hpp"

using namespace triptych;
using namespace triptych::isolate;
using triptych::render_process::Injection;
using triptych::render_process::InjectionPoint;
using triptych::render_process::punch_hole;
using triptych::render_process::storm_futex_wakes;
using namespace std::chrono_literals;

namespace {

constexpr auto kHandshakeTimeout = 5s;
constexpr auto kStandbyWait = std::chrono::hours(24 * 365);
constexpr auto kIdleSlice = 20ms;  // the progress word moves at least this often while idle

int fail(const std::string& what) {
  std::fprintf(stderr, "triptych-render: %s\n", what.c_str());
  return 2;
}

template <class T>
std::span<const std::byte> bytes_of(const T& v) {
  return {reinterpret_cast<const std::byte*>(&v), sizeof v};
}

struct Session {
  Channel channel;
  std::optional<ChildSession> child;
  RenderSetup setup;
  std::unique_ptr<render_process::Backend> backend;
  std::atomic<std::uint64_t>* progress = nullptr;
  bool hostile = false;
  std::uint64_t renders = 0;
  Injection injection;  // tests only: TRIPTYCH_RENDER_DIE_AT
  // A frame's RENDER is received here, so serving a frame allocates nothing.
  std::array<std::byte, isolate::kMaxMessageBytes> message{};
  std::array<isolate::UniqueFd, 1> message_fds;
};

std::span<std::byte> child_span(const Session& s, std::uint64_t offset, std::uint64_t bytes) {
  return s.child->memory.child().subspan(offset, bytes);
}

// Renders one granted frame, seals it and answers DONE.
Result<void> render_one(Session& s, const RenderGrant& g) {
  if (g.epoch != s.child->epoch || g.compute_slot >= kRenderSlots || g.layout_slot >= kRenderSlots ||
      g.result_slot >= kRenderSlots) {
    return make_error(Errc::kInvalidArgument, "RENDER names another epoch or a slot out of range");
  }
  // The frame descriptor the host wrote into H before granting: read once.
  SlotFrame slot;
  std::memcpy(&slot, s.child->memory.host().data() + offsetof(RenderSetup, slots) + g.compute_slot * sizeof(SlotFrame),
              sizeof slot);
  if (slot.frame != g.frame || slot.draw_stride == 0 ||
      static_cast<std::uint64_t>(slot.particle_count) * sizeof(render::Particle) > s.setup.compute_bytes) {
    return make_error(Errc::kInvalidArgument, "RENDER's compute slot holds another frame");
  }
  render::FrameInput in;
  in.frame = g.frame;
  in.compute_slot = s.child->memory.host().subspan(s.setup.compute_offset[g.compute_slot],
                                                  std::uint64_t{slot.particle_count} * sizeof(render::Particle));
  in.particle_count = slot.particle_count;
  in.layout_zone = g.layout_slot;
  in.result_zone = g.result_slot;
  in.resolution_scale = slot.resolution_scale;
  in.draw_stride = slot.draw_stride;
  if (auto done = s.backend->render(in); !done) return done.error();
  const std::span<std::byte> zone = child_span(s, s.setup.result_offset[g.result_slot], s.setup.result_bytes);
  auto image = render::read_result_zone(zone);
  if (!image) return image.error();
  const std::span<std::byte> pixels =
      zone.subspan(image.value().pixel_offset, std::uint64_t{image.value().row_bytes} * image.value().height);
  if (s.setup.test_mode != 0) {
    const std::size_t half = pixels.size() / 2 / kCacheLine * kCacheLine;
    stamp_frame_lines(pixels.first(half), g.frame);
    s.injection.reach(InjectionPoint::kMidResult);
    stamp_frame_lines(pixels.subspan(half), g.frame);
  } else {
    s.injection.reach(InjectionPoint::kMidResult);
  }
  ResultSeal seal;
  seal.frame = g.frame;
  seal.epoch = g.epoch;
  seal.generation = g.generation;
  seal.hash = frame_hash(pixels);
  s.injection.reach(InjectionPoint::kBeforeSeal);
  std::memcpy(s.child->memory.child().data() + kSealsOffset + g.result_slot * sizeof(ResultSeal), &seal, sizeof seal);
  s.injection.reach(InjectionPoint::kBeforeDone);
  if (s.hostile) {
    RenderGrant forged = g;
    forged.frame += 1000;  // never granted
    (void)s.channel.send(bytes_of(done_message(forged)));
    forged = g;
    forged.generation += 1;  // the right frame, another generation
    (void)s.channel.send(bytes_of(done_message(forged)));
    // A forged DONE with an fd (H's memfd) the host must refuse and close.
    const int fds[1] = {s.child->memory.host_fd()};
    forged.frame += 2000;
    (void)s.channel.send(bytes_of(done_message(forged)), fds);
    // Seals of the other result slots claiming this frame.
    for (std::uint32_t r = 0; r < kRenderSlots; ++r) {
      if (r != g.result_slot) {
        std::memcpy(s.child->memory.child().data() + kSealsOffset + r * sizeof(ResultSeal), &seal, sizeof seal);
      }
    }
    // Every other result spoiled after its seal: alternately a line's frame
    // id (torn, as a mix of frames would be) and a pixel inside a line (only
    // the hash shows it).
    if (s.renders % 2 == 1) {
      const std::size_t at = s.renders % 4 == 1 ? 0 : 8;
      for (std::size_t i = at; i < pixels.size(); i += 4096) pixels[i] ^= std::byte{0xA5};
    }
    // Every 4th result gets a hole punched through its pixels; every render
    // storms FUTEX_WAKE on the progress word and the seals.
    if (s.renders % 4 == 2 && !punch_hole(s.child->memory.child_fd(), s.child->memory.child(), pixels)) {
      std::fprintf(stderr, "triptych-render: --hostile: punching a hole in C failed: %s\n", std::strerror(errno));
    }
    std::byte* seals = s.child->memory.child().data() + kSealsOffset;
    static_assert(kRenderSlots == 3, "one word per seal below");
    void* const words[] = {s.progress, seals, seals + sizeof(ResultSeal), seals + 2 * sizeof(ResultSeal)};
    storm_futex_wakes(words, 16);
  }
  ++s.renders;
  s.progress->fetch_add(1, std::memory_order_relaxed);  // only its change matters to the host
  return s.channel.send(bytes_of(done_message(g)));
}

// --hostile's scribbles over C: every seal and the pixels of every result
// slot in `slots` (never a zone's header: this process still renders).
// Between frames (a RENDER just came: the host is done with every earlier
// result) they must change nothing the host accepts; right after a DONE
// (`slots` = the one answered) they race the host's copy, which must then be
// refused or whole, never torn.
void scribble_over_c(Session& s, std::span<const std::uint32_t> slots) {
  std::byte* c = s.child->memory.child().data();
  for (std::uint32_t r = 0; r < kRenderSlots; ++r) std::memset(c + kSealsOffset + r * sizeof(ResultSeal), 0x5A, 8);
  for (const std::uint32_t r : slots) {
    const std::span<std::byte> zone = child_span(s, s.setup.result_offset[r], s.setup.result_bytes);
    auto image = render::read_result_zone(zone);
    if (!image) continue;
    std::byte* pixels = zone.data() + image.value().pixel_offset;
    const std::size_t bytes = std::size_t{image.value().row_bytes} * image.value().height;
    for (std::size_t i = 16; i < bytes; i += 1024) pixels[i] = std::byte{0x3C};
  }
}

int serve(Session& s) {
  for (;;) {
    s.progress->fetch_add(1, std::memory_order_relaxed);
    s.injection.reach(InjectionPoint::kWaitRender);
    auto got = s.channel.receive_into(std::chrono::steady_clock::now() + kIdleSlice, s.message, s.message_fds);
    if (!got) {
      if (got.error().code == Errc::kTimedOut) continue;
      return 0;  // the host hung up: the session is over
    }
    if (got.value().fds != 0 || got.value().truncated) return fail("RENDER came with fds or was truncated");
    auto grant = decode_render(std::span<const std::byte>(s.message).first(got.value().bytes));
    if (!grant) return fail(grant.error().what());
    constexpr std::uint32_t kEverySlot[] = {0, 1, 2};
    static_assert(std::size(kEverySlot) == kRenderSlots);
    if (s.hostile) scribble_over_c(s, kEverySlot);
    if (auto ok = render_one(s, grant.value()); !ok) return fail(ok.error().what());
    if (s.hostile && s.renders % 8 == 5 && grant.value().result_slot < kRenderSlots) {
      const std::uint32_t answered[] = {grant.value().result_slot};
      scribble_over_c(s, answered);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    return fail("usage: triptych-render HOST_PID [--standby] [--vulkan] [--hostile] (spawned by the host, channel on fd 3)");
  }
  const long host = std::strtol(argv[1], nullptr, 10);
  if (host <= 1) return fail("bad host pid");
  if (auto bound = bind_to_host(static_cast<pid_t>(host)); !bound) return fail(bound.error().what());
  Session s;
  bool standby = false;
  bool vulkan = false;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--hostile") == 0) s.hostile = true;
    if (std::strcmp(argv[i], "--standby") == 0) standby = true;
    if (std::strcmp(argv[i], "--vulkan") == 0) vulkan = true;
  }
  // A standby for a Vulkan engine loads the driver and makes a device now,
  // while it waits, not on the recovery path.
  std::unique_ptr<render_process::VulkanWarmup> warm;
  if (standby && vulkan) warm = render_process::VulkanWarmup::start();
  auto channel = Channel::adopt(3);
  if (!channel) return fail(channel.error().what());
  s.channel = std::move(channel).value();
  auto injection = Injection::from_environment();
  if (!injection) return fail(injection.error().what());
  s.injection = std::move(injection).value();
  // A warm standby waits for its ATTACH until the child it stands behind
  // dies (its host's death kills it: PR_SET_PDEATHSIG).
  const auto attach_by = std::chrono::steady_clock::now() + (standby ? kStandbyWait : kHandshakeTimeout);
  // The handshake injection point is a standby's (a cold start that dies in
  // its handshake makes the host give up: docs/isolation.md).
  auto session = standby ? s.injection.child_handshake(s.channel, attach_by) : child_handshake(s.channel, attach_by);
  if (!session) return fail(session.error().what());
  s.child.emplace(std::move(session).value());
  s.injection.arm(s.child->epoch);
  const std::span<std::byte> c = s.child->memory.child();
  auto setup = read_render_setup(s.child->memory.host(), c.size());
  if (!setup) return fail(setup.error().what());
  s.setup = setup.value();
  s.progress = reinterpret_cast<std::atomic<std::uint64_t>*>(c.data() + s.child->progress_offset);
  std::array<std::span<std::byte>, kRenderSlots> layout_zones{}, result_zones{};
  for (std::uint32_t i = 0; i < kRenderSlots; ++i) {
    layout_zones[i] = child_span(s, s.setup.layout_offset[i], s.setup.layout_bytes);
    result_zones[i] = child_span(s, s.setup.result_offset[i], s.setup.result_bytes);
  }
  auto backend = render_process::Backend::create(s.setup, layout_zones, result_zones, std::move(warm));
  if (!backend) return fail(backend.error().what());
  s.backend = std::move(backend).value();
  // Everything is open and mapped: nothing of the host is reachable from
  // here on (docs/isolation.md, "Sandbox").
  if (auto sandbox = enter_render_sandbox(); !sandbox) return fail(sandbox.error().what());
  return serve(s);
}
