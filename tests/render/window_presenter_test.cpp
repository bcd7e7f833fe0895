// SPDX-License-Identifier: Apache-2.0
// The window presenter on a real X server (Xvfb through `xvfb-run -a` in
// ctest) and lavapipe, with the Khronos validation layer on: any validation
// message fails the test. The presented image copied back against the
// offscreen render of the same frame (±1), every present mode the surface
// offers, pacing at 120 Hz, a resize through xdotool, an xwd screenshot of the
// window, the HUD against its golden screenshot, and the no-display fallback. Without a display the window cases
// skip and say so; ctest always gives them one. See docs/presenter.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "render_test_util.hpp"
#include "triptych/render/presenter.hpp"
#include "triptych/trace/clock.hpp"

namespace triptych::render {
namespace {

using test::bytes_of;
using test::Zones;

constexpr auto kWait = std::chrono::seconds(60);
constexpr std::array<float, 4> kClear{0.1F, 0.15F, 0.2F, 1.0F};

// Runs a shell command, returns its stdout (trailing newline dropped) and exit status.
struct Shell {
  std::string out;
  int status = -1;
};
Shell shell(const std::string& command) {
  Shell s;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return s;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) s.out.append(buf.data(), n);
  s.status = pclose(p);
  while (!s.out.empty() && (s.out.back() == '\n' || s.out.back() == '\r')) s.out.pop_back();
  return s;
}

// ---- no display ----------------------------------------------------------------
// First in the file: GLFW stays open once a window system has been opened, so
// the unreachable display is tried before any case opens the real one.

// Sets an environment variable for one scope.
class EnvOverride {
 public:
  EnvOverride(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  EnvOverride(const EnvOverride&) = delete;
  EnvOverride& operator=(const EnvOverride&) = delete;
  ~EnvOverride() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

TEST(PresentBackend, NoDisplayFallsBackToOffscreenWithAClearMessage) {
  EnvOverride no_display("DISPLAY", nullptr);
  auto automatic = choose_backend(PresentBackend::kAuto);
  ASSERT_TRUE(automatic.ok());
  EXPECT_EQ(automatic.value().backend, PresentBackend::kOffscreen);
  EXPECT_NE(automatic.value().why.find("DISPLAY is not set"), std::string::npos) << automatic.value().why;
  auto window = choose_backend(PresentBackend::kWindow);
  ASSERT_FALSE(window.ok()) << "a window was asked for and there is no display";
  EXPECT_EQ(window.error().code, Errc::kUnsupported);
  EXPECT_NE(window.error().message.find("no display"), std::string::npos) << window.error().message;
  auto offscreen = choose_backend(PresentBackend::kOffscreen);
  ASSERT_TRUE(offscreen.ok());
  EXPECT_EQ(offscreen.value().backend, PresentBackend::kOffscreen);
}

TEST(PresentBackend, AnUnreachableDisplayFallsBackToOffscreenNamingIt) {
  EnvOverride bad_display("DISPLAY", ":9731");
  auto automatic = choose_backend(PresentBackend::kAuto);
  ASSERT_TRUE(automatic.ok());
  EXPECT_EQ(automatic.value().backend, PresentBackend::kOffscreen);
  EXPECT_NE(automatic.value().why.find("cannot open the display ':9731'"), std::string::npos) << automatic.value().why;
}

// GLFW is opened once per process, so this runs in a process of its own:
// ctest's render_window_presenter_test_no_glfw sets TRIPTYCH_GLFW_LIBRARY.
TEST(PresentBackend, MissingGlfwFallsBackToOffscreenNamingThePackage) {
  const char* lib = std::getenv("TRIPTYCH_GLFW_LIBRARY");
  if (lib == nullptr || std::string(lib) != "libtriptych-no-such-glfw.so.3") {
    GTEST_SKIP() << "ctest runs this with TRIPTYCH_GLFW_LIBRARY=libtriptych-no-such-glfw.so.3";
  }
  EnvOverride display("DISPLAY", ":0");
  auto automatic = choose_backend(PresentBackend::kAuto);
  ASSERT_TRUE(automatic.ok());
  EXPECT_EQ(automatic.value().backend, PresentBackend::kOffscreen);
  EXPECT_NE(automatic.value().why.find("install the Debian package libglfw3"), std::string::npos)
      << automatic.value().why;
  auto window = choose_backend(PresentBackend::kWindow);
  ASSERT_FALSE(window.ok());
  EXPECT_EQ(window.error().code, Errc::kUnsupported);
}

TEST(PresentBackend, ARendererWithoutTheWindowExtensionsIsRefusedClearly) {
  auto ws = open_window_system();
  if (!ws) GTEST_SKIP() << "no window system (" << ws.error().message << "); ctest runs this under xvfb-run";
  Zones z = Zones::make(64, 32, 32);
  VulkanRendererConfig c;
  c.layout.width = 32;
  c.layout.height = 32;
  auto vr = VulkanRenderer::create(c, z.layout, z.result);
  ASSERT_TRUE(vr.ok()) << vr.error().what();
  WindowPresenterConfig pc;
  pc.size = {32, 32};
  auto p = WindowPresenter::create(vr.value()->handles(), pc);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::kUnsupported);
  EXPECT_NE(p.error().message.find("window system's extensions"), std::string::npos) << p.error().message;
}

TEST(PresentBackend, ANegativePresentWaitTimeoutIsRefusedClearly) {
  WindowPresenterConfig pc;
  pc.size = {32, 32};
  pc.present_wait_timeout = std::chrono::milliseconds(-1);
  auto p = WindowPresenter::create(VulkanHandles{}, pc);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::kInvalidArgument);
  EXPECT_NE(p.error().message.find("present_wait_timeout"), std::string::npos) << p.error().message;
}

class WindowPresenterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    before_ = test::ValidationLog::get().count.load(std::memory_order_relaxed);
    auto ws = open_window_system();
    if (!ws) GTEST_SKIP() << "no window system (" << ws.error().message << "); ctest runs this under xvfb-run";
    system_ = ws.value();
  }
  void TearDown() override { test::expect_no_validation_messages(before_); }

  // A renderer of w x h on a device that can present to a window.
  std::unique_ptr<VulkanRenderer> renderer(Zones& z, std::uint32_t w, std::uint32_t h, bool readback = true) {
    VulkanRendererConfig c;
    c.layout.width = w;
    c.layout.height = h;
    c.clear_color = kClear;
    c.readback = readback;
    c.vulkan = test::validated_options();
    c.vulkan.instance_extensions = system_.instance_extensions;
    c.vulkan.device_extensions = system_.device_extensions;
    auto r = VulkanRenderer::create(std::move(c), z.layout, z.result);
    EXPECT_TRUE(r.ok()) << r.error().what();
    return r.ok() ? std::move(r.value()) : nullptr;
  }

  static WindowPresenterConfig window(const std::string& title, std::uint32_t w, std::uint32_t h, double hz = 0) {
    WindowPresenterConfig c;
    c.title = title;
    c.size = {w, h};
    c.hz = hz;
    c.capture = true;
    return c;
  }

  // A renderer and a window presenter showing its frames; idles the GPU and
  // unhooks the presenter before either goes (the presenter first).
  struct Shown {
    Zones zones;
    std::unique_ptr<VulkanRenderer> renderer;
    std::unique_ptr<WindowPresenter> presenter;
    Shown() = default;
    Shown(const Shown&) = delete;
    Shown& operator=(const Shown&) = delete;
    ~Shown() {
      if (renderer == nullptr) return;
      EXPECT_TRUE(renderer->wait_idle(kWait).ok());
      renderer->set_presenter(nullptr);
    }
  };

  // Fills `s` with a w x h renderer (up to `capacity` particles) and a presenter `cfg`.
  void show(Shown& s, std::uint32_t w, std::uint32_t h, const WindowPresenterConfig& cfg, bool readback = true,
            std::uint32_t capacity = 1024) {
    s.zones = Zones::make(capacity, w, h);
    s.renderer = renderer(s.zones, w, h, readback);
    ASSERT_NE(s.renderer, nullptr);
    auto p = WindowPresenter::create(s.renderer->handles(), cfg);
    ASSERT_TRUE(p.ok()) << p.error().what();
    s.presenter = std::move(p.value());
    s.renderer->set_presenter(s.presenter.get());
  }

  std::uint64_t before_ = 0;
  WindowSystem system_;
};

std::uint32_t max_delta(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  std::uint32_t worst = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    worst = std::max<std::uint32_t>(worst, static_cast<std::uint32_t>(std::abs(int{a[i]} - int{b[i]})));
  }
  return worst;
}

// Submits `particles` as one frame, waits for it, and returns the result zone's pixels.
Image render_frame(VulkanRenderer& vr, Zones& z, const std::vector<Particle>& particles, std::uint64_t frame,
                   std::uint64_t* ticket) {
  const auto zone = static_cast<std::uint32_t>(frame % 3);
  FrameInput in{frame, bytes_of(particles), static_cast<std::uint32_t>(particles.size()), zone, zone};
  auto t = vr.submit(in);
  EXPECT_TRUE(t.ok()) << t.error().what();
  if (!t.ok()) return {};
  *ticket = t.value();
  auto info = vr.wait_frame(t.value(), kWait);
  EXPECT_TRUE(info.ok()) << info.error().what();
  auto img = image_from_result_zone(z.result[zone]);
  EXPECT_TRUE(img.ok());
  return img.ok() ? img.value() : Image{};
}

TEST_F(WindowPresenterTest, PresentedImageMatchesTheOffscreenRender) {
  constexpr std::uint32_t kW = 160;
  constexpr std::uint32_t kH = 120;
  Shown s;
  ASSERT_NO_FATAL_FAILURE(show(s, kW, kH, window("triptych-readback", kW, kH)));
  for (std::uint64_t f = 0; f < 6; ++f) {
    const auto particles = test::random_particles(300, kW, kH, static_cast<std::uint32_t>(f + 1));
    std::uint64_t ticket = 0;
    const Image offscreen = render_frame(*s.renderer, s.zones, particles, f, &ticket);
    auto shown = s.presenter->captured(ticket);
    ASSERT_TRUE(shown.ok()) << shown.error().what();
    ASSERT_EQ(shown.value().extent.width, kW);
    ASSERT_EQ(shown.value().extent.height, kH);
    EXPECT_LE(max_delta(shown.value().rgba, offscreen.rgba), 1U) << "frame " << f;
  }
  EXPECT_EQ(s.presenter->stats().presented, 6U);
  EXPECT_FALSE(s.presenter->mode_why().empty());
  std::printf("present mode: %s\n", s.presenter->mode_why().c_str());
}

// The direct path: under Xvfb + lavapipe the raster quads are drawn straight
// into the acquired swapchain image (mode_why says so), and what is presented
// and what the readback copies out of that image both match a separate
// offscreen renderer's render of the same frame (+-1). The blit stays the path
// with direct drawing off, and is named with its reason.
TEST_F(WindowPresenterTest, DirectDrawIntoTheSwapchainImageMatchesAnOffscreenRenderer) {
  constexpr std::uint32_t kW = 160;
  constexpr std::uint32_t kH = 120;
  Zones offscreen_zones = Zones::make(1024, kW, kH);
  auto offscreen = renderer(offscreen_zones, kW, kH);
  ASSERT_NE(offscreen, nullptr);
  for (const bool direct : {true, false}) {
    Shown s;
    auto cfg = window("triptych-direct", kW, kH);
    cfg.direct = direct;
    ASSERT_NO_FATAL_FAILURE(show(s, kW, kH, cfg));
    for (std::uint64_t f = 0; f < 6; ++f) {
      const auto particles = test::random_particles(300, kW, kH, static_cast<std::uint32_t>(f + 11));
      std::uint64_t ticket = 0;
      const Image read_back = render_frame(*s.renderer, s.zones, particles, f, &ticket);
      std::uint64_t offscreen_ticket = 0;
      const Image reference = render_frame(*offscreen, offscreen_zones, particles, f, &offscreen_ticket);
      auto shown = s.presenter->captured(ticket);
      ASSERT_TRUE(shown.ok()) << shown.error().what();
      ASSERT_EQ(shown.value().rgba.size(), reference.rgba.size());
      EXPECT_LE(max_delta(shown.value().rgba, reference.rgba), 1U) << "frame " << f << (direct ? " direct" : " blitted");
      EXPECT_LE(max_delta(read_back.rgba, reference.rgba), 1U) << "frame " << f << (direct ? " direct" : " blitted");
    }
    const std::string why = s.presenter->mode_why();
    std::printf("%s: %s\n", direct ? "direct on" : "direct off", why.c_str());
    if (direct) {
      EXPECT_NE(why.find("frames drawn into the swapchain image"), std::string::npos) << why;
    } else {
      EXPECT_NE(why.find("frames blitted (direct drawing is off"), std::string::npos) << why;
    }
    EXPECT_EQ(s.presenter->stats().presented, 6U);
  }
}

// Where the device has VK_KHR_present_wait (lavapipe under Xvfb does), the
// presenter uses it: every presented frame has a present-complete stamp at or
// after its present-return stamp, and those stamps only grow.
TEST_F(WindowPresenterTest, PresentWaitStampsEveryFramePresentCompleteAfterItsReturn) {
  constexpr std::uint32_t kW = 96;
  constexpr std::uint32_t kH = 64;
  constexpr std::uint64_t kFrames = 24;
  Shown s;
  ASSERT_NO_FATAL_FAILURE(show(s, kW, kH, window("triptych-present-wait", kW, kH, 120.0)));
  const DeviceInfo& device = s.renderer->device();
  std::printf("%s: VK_KHR_present_id + present_wait offered: %s; %s\n", device.name.c_str(),
              device.present_wait ? "yes" : "no", s.presenter->mode_why().c_str());
  EXPECT_EQ(s.renderer->handles().present_wait, device.present_wait) << "enabled exactly where offered";
  EXPECT_EQ(s.presenter->uses_present_wait(), device.present_wait);
  if (!device.present_wait) {
    EXPECT_NE(s.presenter->mode_why().find("VK_KHR_present_wait not offered"), std::string::npos);
    GTEST_SKIP() << "this device does not offer VK_KHR_present_wait";
  }
  EXPECT_NE(s.presenter->mode_why().find("VK_KHR_present_wait used"), std::string::npos) << s.presenter->mode_why();
  const auto particles = test::random_particles(100, kW, kH, 4);
  std::int64_t previous_complete = 0;
  for (std::uint64_t f = 0; f < kFrames; ++f) {
    std::uint64_t ticket = 0;
    static_cast<void>(render_frame(*s.renderer, s.zones, particles, f, &ticket));
    const std::int64_t returned = s.presenter->presented_at(f);
    const std::int64_t complete = s.presenter->present_completed_at(f);
    ASSERT_GT(returned, 0) << "frame " << f;
    EXPECT_GE(complete, returned) << "frame " << f << " has no present-complete stamp, or one before its return";
    EXPECT_GT(complete, previous_complete) << "frame " << f << ": present-complete stamps go back";
    previous_complete = complete;
  }
  const PresentStats st = s.presenter->stats();
  EXPECT_EQ(st.present_completes, kFrames);
  EXPECT_EQ(st.present_wait_timeouts, 0U);
  std::printf("present return -> complete: last %.3f ms, max %.3f ms\n",
              static_cast<double>(st.last_return_to_complete_ns) / 1e6,
              static_cast<double>(st.max_return_to_complete_ns) / 1e6);
}

TEST_F(WindowPresenterTest, EveryOfferedPresentModeCreatesAndPresents) {
  constexpr std::uint32_t kW = 96;
  constexpr std::uint32_t kH = 64;
  Zones z = Zones::make(256, kW, kH);
  auto vr = renderer(z, kW, kH);
  ASSERT_NE(vr, nullptr);
  std::vector<PresentMode> offered;
  {
    auto probe = WindowPresenter::create(vr->handles(), window("triptych-modes", kW, kH));
    ASSERT_TRUE(probe.ok()) << probe.error().what();
    offered = probe.value()->offered_modes();
  }
  ASSERT_FALSE(offered.empty());
  const auto particles = test::random_particles(100, kW, kH, 9);
  std::uint64_t frame = 0;
  for (const PresentMode mode : offered) {
    const std::uint64_t started = trace::now_ns();
    auto cfg = window("triptych-modes", kW, kH);
    cfg.mode = mode;
    auto p = WindowPresenter::create(vr->handles(), cfg);
    ASSERT_TRUE(p.ok()) << present_mode_name(mode) << ": " << p.error().what();
    EXPECT_EQ(p.value()->mode(), mode);
    vr->set_presenter(p.value().get());
    for (int i = 0; i < 5; ++i) {
      std::uint64_t ticket = 0;
      const Image offscreen = render_frame(*vr, z, particles, frame++, &ticket);
      auto shown = p.value()->captured(ticket);
      ASSERT_TRUE(shown.ok()) << shown.error().what();
      EXPECT_LE(max_delta(shown.value().rgba, offscreen.rgba), 1U) << present_mode_name(mode);
      if (p.value()->uses_present_wait()) {
        EXPECT_GE(p.value()->present_completed_at(frame - 1), p.value()->presented_at(frame - 1))
            << present_mode_name(mode) << ": no present-complete stamp";
      }
    }
    EXPECT_EQ(p.value()->stats().presented, 5U) << present_mode_name(mode);
    std::printf("%s: 5 frames in %.1f ms\n", std::string(present_mode_name(mode)).c_str(),
                static_cast<double>(trace::now_ns() - started) / 1e6);
    ASSERT_TRUE(vr->wait_idle(kWait).ok());
    vr->set_presenter(nullptr);
  }
}

TEST_F(WindowPresenterTest, PacerHolds120HzOver1200Frames) {
  constexpr std::uint32_t kW = 320;
  constexpr std::uint32_t kH = 240;
  constexpr std::uint32_t kFrames = 1200;
  constexpr double kHz = 120.0;
  auto cfg = window("triptych-pacing", kW, kH, kHz);
  cfg.capture = false;
  Shown s;
  ASSERT_NO_FATAL_FAILURE(show(s, kW, kH, cfg, /*readback=*/false));
  const auto particles = test::random_particles(1000, kW, kH, 3);
  std::vector<std::int64_t> presented;
  presented.reserve(kFrames);
  for (std::uint32_t f = 0; f < kFrames; ++f) {
    FrameInput in{f, bytes_of(particles), 1000, f % 3, f % 3};
    auto t = s.renderer->submit(in);
    ASSERT_TRUE(t.ok()) << t.error().what();
    presented.push_back(s.presenter->stats().last_presented_ns);
  }
  const double period_ns = 1e9 / kHz;
  const double mean_ns = static_cast<double>(presented.back() - presented.front()) / (kFrames - 1);
  std::printf("pacing: mean interval %.4f ms (period %.4f ms), misses %llu, mode %s\n", mean_ns / 1e6,
              period_ns / 1e6, static_cast<unsigned long long>(s.presenter->stats().misses),
              s.presenter->mode_why().c_str());
  EXPECT_EQ(s.presenter->stats().presented, kFrames);
  if (TRIPTYCH_SANITIZED) {
    // A sanitized lavapipe frame can take longer than 1/120 s, so only "never early" is checkable here.
    EXPECT_GE(mean_ns, 0.98 * period_ns) << "the pacer presents faster than 120 Hz";
  } else {
    EXPECT_NEAR(mean_ns, period_ns, 0.02 * period_ns) << "the mean present interval strays over 2 % from 1/120 s";
  }
}

TEST_F(WindowPresenterTest, ResizeThroughXdotoolRecreatesTheSwapchain) {
  if (shell("command -v xdotool").status != 0) GTEST_SKIP() << "xdotool is missing (Debian package xdotool)";
  constexpr std::uint32_t kW = 128;
  constexpr std::uint32_t kH = 96;
  Shown s;
  ASSERT_NO_FATAL_FAILURE(show(s, kW, kH, window("triptych-resize", kW, kH)));
  const auto particles = test::random_particles(100, kW, kH, 5);
  std::uint64_t ticket = 0;
  static_cast<void>(render_frame(*s.renderer, s.zones, particles, 0, &ticket));
  EXPECT_EQ(s.presenter->stats().swapchain_extent.width, kW);
  const Shell resized = shell("xdotool search --sync --name '^triptych-resize$' windowsize --sync 200 150 2>&1");
  ASSERT_EQ(resized.status, 0) << resized.out;
  const std::uint64_t until = trace::now_ns() + 10'000'000'000;
  std::uint64_t frame = 1;
  while (s.presenter->stats().swapchain_extent.width != 200 && trace::now_ns() < until) {
    static_cast<void>(render_frame(*s.renderer, s.zones, particles, frame++, &ticket));
  }
  const PresentStats stats = s.presenter->stats();
  EXPECT_EQ(stats.swapchain_extent.width, 200U);
  EXPECT_EQ(stats.swapchain_extent.height, 150U);
  EXPECT_GE(stats.recreated, 1U);
  // A frame after the resize is shown whole, scaled to the new size.
  const Image offscreen = render_frame(*s.renderer, s.zones, particles, frame++, &ticket);
  auto shown = s.presenter->captured(ticket);
  ASSERT_TRUE(shown.ok()) << shown.error().what();
  EXPECT_EQ(shown.value().extent.width, 200U);
  EXPECT_EQ(offscreen.width, kW);
}

// Fixed numbers, so the HUD's picture is the same on every run.
HudStats fixed_hud_stats() {
  HudStats s;
  s.fps = 119.6;
  s.frames = static_cast<std::uint32_t>(kHudFrameHistory);
  for (std::size_t i = 0; i < kHudFrameHistory; ++i) {
    s.frame_ms[i] = 8.0F + static_cast<float>(i % 24) * 0.25F + (i % 60 == 59 ? 10.0F : 0.0F);
  }
  s.compute_ms = 1.25F;
  s.layout_ms = 0.5F;
  s.render_ms = 3.75F;
  s.present_ms = 0.8F;
  s.budget_ms = 8.33F;
  s.misses = 4;
  s.dropped = 2;
  const char shed[] = "0.50x resolution";
  std::copy(std::begin(shed), std::end(shed), s.governor.begin());
  return s;
}

TEST_F(WindowPresenterTest, HudIsComposedIntoThePresentedImageAndMatchesItsGolden) {
  constexpr std::uint32_t kW = 320;
  constexpr std::uint32_t kH = 240;
  auto cfg = window("triptych-hud", kW, kH);
  cfg.hud = true;
  Shown s;
  ASSERT_NO_FATAL_FAILURE(show(s, kW, kH, cfg));
  EXPECT_TRUE(s.presenter->hud());
  s.presenter->set_hud_stats(fixed_hud_stats());
  const auto particles = test::random_particles(400, kW, kH, 21);
  std::uint64_t ticket = 0;
  const Image offscreen = render_frame(*s.renderer, s.zones, particles, 0, &ticket);
  auto shown = s.presenter->captured(ticket);
  ASSERT_TRUE(shown.ok()) << shown.error().what();
  Image with_hud{kW, kH, shown.value().rgba};
  // The HUD is a panel from the top-left corner about 262 pixels wide; right
  // of it the scene is as rendered.
  std::uint64_t hud_pixels = 0;
  std::uint64_t changed_elsewhere = 0;
  for (std::uint32_t y = 0; y < kH; ++y) {
    for (std::uint32_t x = 0; x < kW; ++x) {
      const std::uint8_t* a = with_hud.pixel(x, y);
      const std::uint8_t* b = offscreen.pixel(x, y);
      const bool differs = std::abs(int{a[0]} - int{b[0]}) > 1 || std::abs(int{a[1]} - int{b[1]}) > 1 ||
                           std::abs(int{a[2]} - int{b[2]}) > 1;
      if (!differs) continue;
      if (x < 272) {
        ++hud_pixels;
      } else {
        ++changed_elsewhere;
      }
    }
  }
  EXPECT_GT(hud_pixels, 10'000U) << "the HUD was drawn over the scene";
  EXPECT_EQ(changed_elsewhere, 0U) << "outside its panel the scene is untouched";
  test::expect_golden("hud_fixed_stats", with_hud);
  // Off again (as the H key does): the presented image is the scene alone.
  s.presenter->set_hud(false);
  const Image plain = render_frame(*s.renderer, s.zones, particles, 1, &ticket);
  auto shown_plain = s.presenter->captured(ticket);
  ASSERT_TRUE(shown_plain.ok()) << shown_plain.error().what();
  EXPECT_LE(max_delta(shown_plain.value().rgba, plain.rgba), 1U);
}

// Reads an XWD file of a 24/32-bit TrueColor window into RGB triples.
struct Xwd {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::vector<std::uint8_t> rgb;
};
std::uint32_t be32(const std::vector<std::uint8_t>& b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) | b[at + 3];
}
std::uint32_t shift_of(std::uint32_t mask) {
  std::uint32_t s = 0;
  while (mask != 0 && (mask & 1U) == 0) {
    mask >>= 1;
    ++s;
  }
  return s;
}
Result<Xwd> read_xwd(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<std::uint8_t> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (b.size() < 100) return make_error(Errc::kTooSmall, "xwd file too short");
  const std::uint32_t header = be32(b, 0);
  const std::uint32_t bpp = be32(b, 44);
  const std::uint32_t line = be32(b, 48);
  const std::uint32_t byte_order = be32(b, 28);
  const std::uint32_t rmask = be32(b, 56);
  const std::uint32_t gmask = be32(b, 60);
  const std::uint32_t bmask = be32(b, 64);
  const std::uint32_t ncolors = be32(b, 76);
  Xwd x;
  x.width = be32(b, 16);
  x.height = be32(b, 20);
  const std::size_t data = std::size_t{header} + std::size_t{ncolors} * 12;
  if (bpp != 32 || b.size() < data + std::size_t{line} * x.height) {
    return make_error(Errc::kCorruptHeader, "xwd: want 32 bits per pixel, got " + std::to_string(bpp));
  }
  x.rgb.resize(std::size_t{x.width} * x.height * 3);
  for (std::uint32_t y = 0; y < x.height; ++y) {
    for (std::uint32_t i = 0; i < x.width; ++i) {
      const std::size_t at = data + std::size_t{y} * line + std::size_t{i} * 4;
      const std::uint32_t v = byte_order == 0
                                  ? (std::uint32_t{b[at + 3]} << 24) | (std::uint32_t{b[at + 2]} << 16) |
                                        (std::uint32_t{b[at + 1]} << 8) | b[at]
                                  : be32(b, at);
      std::uint8_t* out = &x.rgb[(std::size_t{y} * x.width + i) * 3];
      out[0] = static_cast<std::uint8_t>((v & rmask) >> shift_of(rmask));
      out[1] = static_cast<std::uint8_t>((v & gmask) >> shift_of(gmask));
      out[2] = static_cast<std::uint8_t>((v & bmask) >> shift_of(bmask));
    }
  }
  return x;
}

TEST_F(WindowPresenterTest, XwdScreenshotOfTheWindowMatchesTheReadback) {
  if (shell("command -v xwd").status != 0) GTEST_SKIP() << "xwd is missing (Debian package x11-apps)";
  constexpr std::uint32_t kW = 160;
  constexpr std::uint32_t kH = 120;
  Shown s;
  ASSERT_NO_FATAL_FAILURE(show(s, kW, kH, window("triptych-xwd", kW, kH)));
  const auto particles = test::random_particles(300, kW, kH, 11);
  Image offscreen;
  std::uint64_t ticket = 0;
  // The same picture a few times, so the X server has drawn it whatever the mode.
  for (std::uint64_t f = 0; f < 4; ++f) offscreen = render_frame(*s.renderer, s.zones, particles, f, &ticket);
  ASSERT_TRUE(s.renderer->wait_idle(kWait).ok());
  const std::string file = test::out_dir() + "/window.xwd";
  const Shell shot = shell("xwd -silent -name triptych-xwd -out '" + file + "' 2>&1");
  ASSERT_EQ(shot.status, 0) << shot.out;
  auto x = read_xwd(file);
  ASSERT_TRUE(x.ok()) << x.error().what();
  ASSERT_EQ(x.value().width, kW);
  ASSERT_EQ(x.value().height, kH);
  std::uint32_t worst = 0;
  for (std::size_t i = 0; i < std::size_t{kW} * kH; ++i) {
    for (std::size_t c = 0; c < 3; ++c) {
      worst = std::max<std::uint32_t>(
          worst, static_cast<std::uint32_t>(std::abs(int{x.value().rgb[i * 3 + c]} - int{offscreen.rgba[i * 4 + c]})));
    }
  }
  EXPECT_LE(worst, 1U) << "the window's pixels (xwd) differ from the offscreen render";
}

}  // namespace
}  // namespace triptych::render
