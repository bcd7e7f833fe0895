// SPDX-License-Identifier: Apache-2.0
// The window presenter: a GLFW window (GLFW_NO_API) with a Vulkan surface and
// swapchain on the renderer's own device. The renderer draws each frame
// straight into the acquired swapchain image where it can (acquire(): direct
// draw), else the frame is copied on the GPU (a blit: no CPU readback) from
// the renderer's colour image into it; then presented, at the presenter's own pace: the
// presenter owns the clock (period from `hz`) and wakes at
// deadline - (rolling p99 of its own acquire+record+submit+present + margin).
// The swapchain is recreated on resize, VK_ERROR_OUT_OF_DATE_KHR and
// VK_SUBOPTIMAL_KHR. Where the device has VK_KHR_present_wait each present
// carries a present id and is waited for (bounded) to stamp present-complete.
// Blocking. Every call, GLFW's included, belongs to the one
// thread that created the presenter (the render thread: Presenter::present and
// retire are called there); X11 allows a window on a thread other than main.
// Design, invariants and failures: docs/presenter.md.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "triptych/core/result.hpp"
#include "triptych/render/vulkan_renderer.hpp"

namespace triptych::render {

// Where frames go: a window, or nowhere but the result zones (the offscreen
// path: render target plus pipelined readback). kAuto: a window when a
// display and Vulkan surfaces are there, else offscreen with the reason.
enum class PresentBackend : std::uint8_t { kAuto, kWindow, kOffscreen };

// VkPresentModeKHR values the presenter may pick, in its order of preference.
enum class PresentMode : std::uint32_t {
  kImmediate = 0,  // VK_PRESENT_MODE_IMMEDIATE_KHR
  kMailbox = 1,    // VK_PRESENT_MODE_MAILBOX_KHR
  kFifo = 2,       // VK_PRESENT_MODE_FIFO_KHR
};
[[nodiscard]] std::string_view present_mode_name(PresentMode mode) noexcept;

// What a window needs from the Vulkan instance and device, found by opening
// the window system (glfwInit) once. Blocking; the presenter's thread.
struct WindowSystem {
  std::vector<std::string> instance_extensions;  // glfwGetRequiredInstanceExtensions
  std::vector<std::string> device_extensions;    // VK_KHR_swapchain
};

// kUnsupported with a message a host prints before falling back to offscreen:
// DISPLAY unset, no X server (glfwInit failed), or GLFW finds no Vulkan
// loader or surface extension. GLFW stays open for the rest of the process,
// like the Vulkan loader: Mesa's X11 WSI keeps per-connection state keyed by
// the connection's address, and a closed and reopened display can reuse that
// address with stale state (X error BadRequest on XFixes, seen on Xvfb).
[[nodiscard]] Result<WindowSystem> open_window_system();

// The backend a run takes: kOffscreen as asked; kWindow as asked (an error
// when the window system cannot open); kAuto: the window when it opens, else
// kOffscreen with `why` saying what was missing.
struct BackendChoice {
  PresentBackend backend = PresentBackend::kOffscreen;
  std::string why;
  WindowSystem window_system;  // filled when backend == kWindow
};
[[nodiscard]] Result<BackendChoice> choose_backend(PresentBackend asked);

// What the HUD shows (Dear ImGui, drawn into the swapchain image after the
// scene). Plain numbers, set by the presenter's thread before a present.
inline constexpr std::size_t kHudFrameHistory = 240;
struct HudStats {
  double fps = 0;
  // Frame times (ms) of the last frames, oldest first; `frames` of them are set.
  std::array<float, kHudFrameHistory> frame_ms{};
  std::uint32_t frames = 0;
  // Per-stage time of the newest frame (ms): compute, layout, render, present.
  float compute_ms = 0, layout_ms = 0, render_ms = 0, present_ms = 0;
  float budget_ms = 0;  // the frame period the bars are drawn against; 0: 16.67
  std::uint64_t misses = 0;   // frames late against their deadline
  std::uint64_t dropped = 0;  // frames never shown
  std::array<char, 96> governor{};  // what the deadline governor sheds, as text ("" = nothing)
  // Particles simulated now, of the capacity (the + and - keys); 0: not shown.
  std::uint32_t particles = 0, particle_capacity = 0;
};

struct WindowPresenterConfig {
  std::string title = "triptych";
  PresentExtent size{};  // the window's first size (required); a rendered image of another size is scaled
  double hz = 120.0;     // presents per second; 0: unpaced (as fast as the swapchain takes them)
  // Added to the rolling p99 of the presenter's own work when choosing the
  // wake-up (gamescope's margin).
  std::chrono::nanoseconds margin = std::chrono::microseconds(1650);
  std::optional<PresentMode> mode;  // force one (it must be offered); default: MAILBOX, FIFO, IMMEDIATE
  bool capture = false;             // test mode: copy every presented image back to host memory
  bool visible = true;
  bool hud = false;  // draw the HUD (H toggles it)
  // Let the renderer draw each frame straight into the acquired swapchain
  // image where it can (docs/presenter.md, "Direct draw"); false: every frame
  // is blitted from the renderer's own image (the benchmark compares both).
  bool direct = true;
  std::chrono::nanoseconds gpu_timeout = std::chrono::seconds(20);
  // With VK_KHR_present_wait: the longest the presenter's thread waits, right
  // after a present returned, for that present to complete (more than one
  // refresh at 60 Hz, so FIFO's one frame in flight normally completes within
  // it). A present not complete by then gets no present-complete stamp.
  std::chrono::nanoseconds present_wait_timeout = std::chrono::milliseconds(20);
};

// Counters since create (the presenter's thread).
struct PresentStats {
  std::uint64_t presented = 0;    // frames queued to the swapchain
  std::uint64_t skipped = 0;      // frames not shown: the swapchain was out of date or the window minimised
  std::uint64_t misses = 0;       // presents that returned after their deadline
  std::uint64_t recreated = 0;    // swapchain recreations after the first
  std::int64_t last_presented_ns = 0;  // CLOCK_MONOTONIC at the last present's return
  // VK_KHR_present_wait (uses_present_wait()): presents seen complete, and
  // those whose completion did not come within present_wait_timeout.
  std::uint64_t present_completes = 0;
  std::uint64_t present_wait_timeouts = 0;
  std::int64_t last_present_complete_ns = 0;  // CLOCK_MONOTONIC at the last present-complete
  // Present return to present-complete of the last complete present, and the longest so far (ns).
  std::int64_t last_return_to_complete_ns = 0;
  std::int64_t max_return_to_complete_ns = 0;
  PresentExtent swapchain_extent{};
  std::uint32_t swapchain_images = 0;
};

// Keys pressed in the window since the last take_input(): P or Space
// (pause / resume), N or Right (one frame while paused), + or = or keypad +
// (double the particles: +1) and - or keypad - (halve them: -1).
struct WindowInput {
  std::uint32_t pause_toggles = 0;
  std::uint32_t steps = 0;
  std::int32_t particle_doublings = 0;
};

// A presented image copied back (capture mode): RGBA8, rows of width * 4 bytes.
struct CapturedImage {
  std::uint64_t ticket = 0;
  PresentExtent extent{};
  std::vector<std::uint8_t> rgba;
};

class WindowPresenter final : public Presenter {
 public:
  // Opens the window and its surface on `vulkan`'s instance (created with the
  // WindowSystem's extensions) and builds the first swapchain. kUnsupported:
  // the window system is not open, the renderer's graphics queue cannot
  // present to the surface, or no wanted present mode / blit-able format is
  // offered. Allocates; not for the hot path.
  [[nodiscard]] static Result<std::unique_ptr<WindowPresenter>> create(const VulkanHandles& vulkan,
                                                                        WindowPresenterConfig config);
  WindowPresenter(const WindowPresenter&) = delete;
  WindowPresenter& operator=(const WindowPresenter&) = delete;
  ~WindowPresenter() override;  // waits for its GPU work, destroys the swapchain, surface and window

  // Presenter: paces, acquires, blits, presents; stamps presented. Recreates
  // the swapchain when it is out of date. No allocation.
  Result<void> present(const PresentImage& image) override;
  // The direct path (Presenter): the swapchain's format when `direct`; acquire
  // paces, acquires and gives the image when the frame's size is the swapchain's.
  [[nodiscard]] std::uint32_t direct_format() const noexcept override;
  [[nodiscard]] Result<std::optional<DrawTarget>> acquire(PresentExtent extent, bool copied_out) override;
  // Blocks until the blit of `ticket` (or of a later frame) has finished.
  void retire(std::uint64_t ticket) override;

  // The mode in use and why it was picked, in words for `info` and the report,
  // then how the last frame reached its image: "drawn into the swapchain
  // image" or "blitted (why)".
  [[nodiscard]] PresentMode mode() const noexcept;
  [[nodiscard]] const std::string& mode_why() const noexcept;
  [[nodiscard]] PresentStats stats() const noexcept;
  // The present modes the surface offers.
  [[nodiscard]] const std::vector<PresentMode>& offered_modes() const noexcept;
  // The window's close button, Escape or Q was pressed.
  [[nodiscard]] bool close_requested() const noexcept;
  // The pause and step keys pressed since the last call (then zeroed).
  [[nodiscard]] WindowInput take_input() noexcept;
  // Handles window events; present() does it too. Call while no frame comes.
  void poll_events() noexcept;
  // CLOCK_MONOTONIC ns at which the present of `frame` (PresentImage::frame)
  // returned, for one of the last 8 frames given to present(); 0 otherwise
  // (not shown, or too old). The engine stamps `presented` from it.
  [[nodiscard]] std::int64_t presented_at(std::uint64_t frame) const noexcept;
  // CLOCK_MONOTONIC ns at which the present of `frame` was seen complete
  // (vkWaitForPresentKHR returned), >= its presented_at; 0 without
  // present_wait, when it did not complete within present_wait_timeout, or
  // for a frame not among the last 8.
  [[nodiscard]] std::int64_t present_completed_at(std::uint64_t frame) const noexcept;
  // Presents carry a present id and are waited for (VK_KHR_present_wait on
  // the renderer's device: VulkanHandles::present_wait).
  [[nodiscard]] bool uses_present_wait() const noexcept;
  // The HUD: on or off (the H key toggles it too), and the numbers it shows
  // from the next present on. No allocation.
  void set_hud(bool on) noexcept;
  [[nodiscard]] bool hud() const noexcept;
  void set_hud_stats(const HudStats& stats) noexcept;
  // Capture mode: the copy of `ticket`'s presented image, once its blit is
  // done. kInvalidArgument without capture; kOutOfRange when it was not
  // presented or has been overwritten by a later frame (3 are kept).
  [[nodiscard]] Result<CapturedImage> captured(std::uint64_t ticket);

  struct Impl;

 private:
  explicit WindowPresenter(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace triptych::render
