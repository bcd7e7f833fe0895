// SPDX-License-Identifier: Apache-2.0
// The Vulkan render stage on whatever device the machine has (lavapipe in
// CI), always with the Khronos validation layer: any validation message fails
// the test. Golden images, import vs staging, pipelined readback with
// out-of-order polling, hostile instance data, fallbacks, missing loader or
// driver, and the presenter hook. See docs/render-stage.md.
#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "render_test_util.hpp"
#include "triptych/trace/spans.hpp"
#include "triptych/trace/clock.hpp"

// Under ThreadSanitizer, races inside the driver are suppressed by
// tests/support/tsan_driver_suppressions.cpp (linked in); our code is checked.

namespace triptych::render {
namespace {

using test::bytes_of;
using test::Zones;

constexpr std::uint32_t kW = 128;
constexpr std::uint32_t kH = 128;
constexpr std::array<float, 4> kClear{0.2F, 0.2F, 0.2F, 1.0F};
constexpr auto kWait = std::chrono::seconds(60);

class Vulkan : public ::testing::Test {
 protected:
  void SetUp() override { before_ = test::ValidationLog::get().count.load(std::memory_order_relaxed); }
  void TearDown() override { test::expect_no_validation_messages(before_); }

  static VulkanRendererConfig config(std::uint32_t w = kW, std::uint32_t h = kH) {
    VulkanRendererConfig c;
    c.layout.width = w;
    c.layout.height = h;
    c.clear_color = kClear;
    c.vulkan = test::validated_options();
    return c;
  }

  std::uint64_t before_ = 0;
};

// Renders one frame of `particles` and returns the result zone's image.
Image render_once(VulkanRendererConfig cfg, const std::vector<Particle>& particles, FrameInfo* info_out = nullptr,
                  std::uint32_t capacity = 1024) {
  Zones z = Zones::make(std::max<std::uint32_t>(capacity, static_cast<std::uint32_t>(particles.size())),
                        cfg.layout.width, cfg.layout.height);
  auto r = VulkanRenderer::create(std::move(cfg), z.layout, z.result);
  EXPECT_TRUE(r.ok()) << r.error().what();
  if (!r.ok()) return {};
  auto& renderer = *r.value();
  FrameInput in;
  in.frame = 7;
  in.compute_slot = bytes_of(particles);
  in.particle_count = static_cast<std::uint32_t>(particles.size());
  auto t = renderer.submit(in);
  EXPECT_TRUE(t.ok()) << t.error().what();
  auto info = renderer.wait_frame(t.value(), kWait);
  EXPECT_TRUE(info.ok()) << info.error().what();
  if (info_out != nullptr) *info_out = info.value();
  std::uint64_t frame = 0;
  auto img = image_from_result_zone(z.result[0], &frame);
  EXPECT_TRUE(img.ok());
  EXPECT_EQ(frame, 8U) << "the result header names frame token 7 (+1)";
  return img.value();
}

// The same frame through the CPU reference renderer.
Image render_reference(const std::vector<Particle>& particles, std::uint32_t w = kW, std::uint32_t h = kH) {
  Zones z = Zones::make(std::max<std::uint32_t>(1024, static_cast<std::uint32_t>(particles.size())), w, h, 1);
  LayoutParams lp;
  lp.width = w;
  lp.height = h;
  auto cpu = CpuRenderStage::create(lp, kClear, z.layout, z.result);
  EXPECT_TRUE(cpu.ok());
  FrameInput in;
  in.compute_slot = bytes_of(particles);
  in.particle_count = static_cast<std::uint32_t>(particles.size());
  EXPECT_TRUE(cpu.value()->submit(in).ok());
  return image_from_result_zone(z.result[0]).value();
}

void expect_close(const Image& gpu, const Image& cpu, std::uint32_t tolerance, std::uint64_t allowed = 0) {
  auto d = compare_images(gpu, cpu, tolerance);
  ASSERT_TRUE(d.ok());
  EXPECT_LE(d.value().pixels_over, allowed) << "GPU vs CPU reference, max delta " << d.value().max_delta;
}

bool same_rgba(const std::uint8_t* p, std::uint8_t r, std::uint8_t g, std::uint8_t b, std::uint8_t a) {
  return p[0] == r && p[1] == g && p[2] == b && p[3] == a;
}

// ---- devices -----------------------------------------------------------------

TEST_F(Vulkan, Device_ListsUsableDevices) {
  auto list = list_devices(test::validated_options());
  ASSERT_TRUE(list.ok()) << list.error().what();
  ASSERT_FALSE(list.value().empty());
  bool usable = false;
  for (const auto& d : list.value()) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_FALSE(d.type.empty());
    usable = usable || d.usable;
  }
  EXPECT_TRUE(usable);
}

TEST_F(Vulkan, Device_DefaultPicksBestTypeAndExplicitChoicesWork) {
  auto list = list_devices(test::validated_options()).value();
  auto rank = [](const std::string& t) {
    return t == "discrete" ? 0 : t == "integrated" ? 1 : t == "virtual" ? 2 : t == "cpu" ? 3 : 4;
  };
  int best = 5;
  for (const auto& d : list) {
    if (d.usable) best = std::min(best, rank(d.type));
  }
  Zones z = Zones::make(16, kW, kH, 1);
  auto r = VulkanRenderer::create(config(), z.layout, z.result);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(rank(r.value()->device().type), best);
  const DeviceInfo chosen = r.value()->device();
  r.value().reset();

  auto by_index = config();
  by_index.vulkan.device.index = static_cast<int>(chosen.index);
  auto ri = VulkanRenderer::create(by_index, z.layout, z.result);
  ASSERT_TRUE(ri.ok()) << ri.error().what();
  EXPECT_EQ(ri.value()->device().name, chosen.name);
  ri.value().reset();

  auto by_name = config();
  by_name.vulkan.device.name = chosen.name.substr(0, 4);
  auto rn = VulkanRenderer::create(by_name, z.layout, z.result);
  ASSERT_TRUE(rn.ok()) << rn.error().what();
  EXPECT_EQ(rn.value()->device().name.substr(0, 4), chosen.name.substr(0, 4));
}

TEST_F(Vulkan, Device_UnknownNameIsAClearError) {
  Zones z = Zones::make(16, kW, kH, 1);
  auto cfg = config();
  cfg.vulkan.device.name = "no-such-gpu-9000";
  auto r = VulkanRenderer::create(cfg, z.layout, z.result);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kUnsupported);
  EXPECT_NE(r.error().message.find("no-such-gpu-9000"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("[0]"), std::string::npos) << "lists the devices there are";
}

TEST_F(Vulkan, Device_IndexOutOfRangeIsAClearError) {
  Zones z = Zones::make(16, kW, kH, 1);
  auto cfg = config();
  cfg.vulkan.device.index = 999;
  auto r = VulkanRenderer::create(cfg, z.layout, z.result);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kUnsupported);
  EXPECT_NE(r.error().message.find("999"), std::string::npos);
}

// The sink really sees validation messages: a deliberately invalid call
// (a zero-sized buffer, VUID-VkBufferCreateInfo-size-00912) must reach it.
TEST_F(Vulkan, Validation_LayerReportsAnInvalidCall) {
  Zones z = Zones::make(16, kW, kH, 1);
  auto r = VulkanRenderer::create(config(), z.layout, z.result);
  ASSERT_TRUE(r.ok()) << r.error().what();
  const VulkanHandles h = r.value()->handles();
  auto get_device_proc = reinterpret_cast<PFN_vkGetDeviceProcAddr>(h.get_instance_proc_addr(h.instance, "vkGetDeviceProcAddr"));
  ASSERT_NE(get_device_proc, nullptr);
  auto create_buffer = reinterpret_cast<PFN_vkCreateBuffer>(get_device_proc(h.device, "vkCreateBuffer"));
  auto destroy_buffer = reinterpret_cast<PFN_vkDestroyBuffer>(get_device_proc(h.device, "vkDestroyBuffer"));
  VkBufferCreateInfo bci{};
  bci.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
  bci.size = 0;
  bci.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  VkBuffer b = VK_NULL_HANDLE;
  const std::uint64_t seen = test::ValidationLog::get().count.load(std::memory_order_relaxed);
  if (create_buffer(h.device, &bci, nullptr, &b) == VK_SUCCESS && b != VK_NULL_HANDLE) destroy_buffer(h.device, b, nullptr);
  EXPECT_GT(test::ValidationLog::get().count.load(std::memory_order_relaxed), seen);
  before_ = test::ValidationLog::get().count.load(std::memory_order_relaxed);  // expected messages
}

TEST(VulkanEnvironment, MissingLoaderNamesThePackage) {
  ::setenv("TRIPTYCH_VULKAN_LIBRARY", "/nonexistent/libvulkan.so.1", 1);
  auto r = list_devices();
  ::unsetenv("TRIPTYCH_VULKAN_LIBRARY");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kUnsupported);
  EXPECT_NE(r.error().message.find("libvulkan1"), std::string::npos) << r.error().message;
}

// In a child process: the loader reads VK_ICD_FILENAMES when the instance is made.
TEST(VulkanEnvironment, NoDriverNamesWhatToInstall) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::setenv("VK_ICD_FILENAMES", "/nonexistent/icd.json", 1);
        ::setenv("VK_DRIVER_FILES", "/nonexistent/icd.json", 1);
        auto r = list_devices();
        if (r.ok()) std::exit(1);
        std::fprintf(stderr, "%s\n", r.error().what().c_str());
        std::exit(r.error().code == Errc::kUnsupported ? 3 : 2);
      },
      ::testing::ExitedWithCode(3), "no Vulkan driver.*mesa-vulkan-drivers");
}

TEST_F(Vulkan, Config_BadValuesAreRejected) {
  Zones z = Zones::make(16, kW, kH, 1);
  auto c1 = config();
  c1.frames_in_flight = 0;
  EXPECT_EQ(VulkanRenderer::create(c1, z.layout, z.result).error().code, Errc::kInvalidArgument);
  auto c2 = config();
  c2.layout.width = 0;
  EXPECT_EQ(VulkanRenderer::create(c2, z.layout, z.result).error().code, Errc::kInvalidArgument);
  auto c3 = config(256, 256);  // result zones sized for 128x128
  EXPECT_EQ(VulkanRenderer::create(c3, z.layout, z.result).error().code, Errc::kTooSmall);
  auto tiny = HostZone::create(kPageSize).value();
  const std::vector<std::span<std::byte>> small{tiny.bytes()};
  EXPECT_EQ(VulkanRenderer::create(config(), small, z.result).error().code, Errc::kTooSmall);
}

TEST_F(Vulkan, Submit_BadZoneIndexIsOutOfRange) {
  Zones z = Zones::make(16, kW, kH, 1);
  auto r = VulkanRenderer::create(config(), z.layout, z.result);
  ASSERT_TRUE(r.ok()) << r.error().what();
  FrameInput in;
  in.layout_zone = 3;
  EXPECT_EQ(r.value()->submit(in).error().code, Errc::kOutOfRange);
  in.layout_zone = 0;
  in.result_zone = 1;
  EXPECT_EQ(r.value()->submit(in).error().code, Errc::kOutOfRange);
  EXPECT_EQ(r.value()->wait_frame(0, kWait).error().code, Errc::kOutOfRange);
}

// ---- golden scenes ---------------------------------------------------------------

TEST_F(Vulkan, Golden_Circle) {
  const std::vector<Particle> p{test::circle(64, 64, 30, rgba(255, 0, 0))};
  const Image img = render_once(config(), p);
  ASSERT_EQ(img.width, kW);
  EXPECT_TRUE(same_rgba(img.pixel(64, 64), 255, 0, 0, 255));
  EXPECT_TRUE(same_rgba(img.pixel(2, 2), 51, 51, 51, 255));
  EXPECT_TRUE(same_rgba(img.pixel(64, 100), 51, 51, 51, 255));
  test::expect_golden("circle", img);
  expect_close(img, render_reference(p), test::kGoldenTolerance);
}

TEST_F(Vulkan, Golden_RoundedRect) {
  const std::vector<Particle> p{test::rounded_rect(50, 50, 30, rgba(0, 255, 0)),
                                test::rounded_rect(100, 96, 12, rgba(255, 255, 0))};
  const Image img = render_once(config(), p);
  EXPECT_TRUE(same_rgba(img.pixel(50, 50), 0, 255, 0, 255));
  EXPECT_TRUE(same_rgba(img.pixel(23, 23), 0, 255, 0, 255)) << "inside the straight part";
  EXPECT_TRUE(same_rgba(img.pixel(20, 20), 51, 51, 51, 255)) << "outside the rounded corner";
  test::expect_golden("rounded_rect", img);
  expect_close(img, render_reference(p), test::kGoldenTolerance);
}

TEST_F(Vulkan, Golden_Line) {
  const std::vector<Particle> p{test::line(10, 20, 100, 0, 3, rgba(0, 0, 255)),
                                test::line(10, 110, 100, -80, 2, rgba(255, 255, 255)),
                                test::line(64, 64, 0, 0, 5, rgba(255, 0, 255))};
  const Image img = render_once(config(), p);
  EXPECT_TRUE(same_rgba(img.pixel(60, 20), 0, 0, 255, 255));
  EXPECT_TRUE(same_rgba(img.pixel(60, 26), 51, 51, 51, 255));
  EXPECT_TRUE(same_rgba(img.pixel(64, 64), 255, 0, 255, 255)) << "a zero-length line is a dot";
  test::expect_golden("line", img);
  expect_close(img, render_reference(p), test::kGoldenTolerance);
}

TEST_F(Vulkan, Golden_Blending) {
  const std::vector<Particle> p{test::circle(50, 50, 30, rgba(255, 0, 0, 128)),
                                test::circle(78, 50, 30, rgba(0, 255, 0, 128)),
                                test::circle(64, 78, 30, rgba(0, 0, 255, 128))};
  const Image img = render_once(config(), p);
  const std::uint8_t* mid = img.pixel(64, 60);  // under all three
  EXPECT_GT(mid[0], 30);
  EXPECT_GT(mid[1], 30);
  EXPECT_GT(mid[2], 60) << "the last drawn (blue) dominates";
  test::expect_golden("blending", img);
  expect_close(img, render_reference(p), test::kGoldenTolerance);
}

TEST_F(Vulkan, Golden_Culling) {
  const std::vector<Particle> p{test::circle(-20, 64, 30, rgba(255, 128, 0)),   // partly visible
                                test::circle(-200, 64, 30, rgba(255, 0, 0)),    // off left
                                test::circle(64, 400, 30, rgba(255, 0, 0)),     // off bottom
                                test::line(-50, -50, -10, -10, 2, rgba(255, 0, 0)),  // off top-left
                                test::rounded_rect(140, 140, 20, rgba(0, 128, 255))};  // corner visible
  FrameInfo info;
  const Image img = render_once(config(), p, &info);
  EXPECT_EQ(info.stats.input, 5U);
  EXPECT_EQ(info.stats.drawn, 2U);
  EXPECT_EQ(info.stats.culled, 3U);
  test::expect_golden("culling", img);
  expect_close(img, render_reference(p), test::kGoldenTolerance);
}

TEST_F(Vulkan, Golden_OneInstance) {
  const std::vector<Particle> p{test::circle(10.5F, 117.25F, 4.5F, rgba(200, 100, 50))};
  FrameInfo info;
  const Image img = render_once(config(), p, &info);
  EXPECT_EQ(info.stats.drawn, 1U);
  test::expect_golden("one_instance", img);
  expect_close(img, render_reference(p), test::kGoldenTolerance);
}

TEST_F(Vulkan, Golden_100kInstances) {
  const auto p = test::random_particles(100'000, kW, kH, 42);
  FrameInfo info;
  auto cfg = config();
  cfg.layout_tasks = 2;
  const Image img = render_once(cfg, p, &info);
  EXPECT_EQ(info.stats.input, 100'000U);
  EXPECT_EQ(info.stats.drawn + info.stats.culled, 100'000U);
  test::expect_golden("instances_100k", img);
  // 100k overlapping blends: rounding differences may compound at a few pixels.
  expect_close(img, render_reference(p), 4, kW * kH / 100);
}

// ---- zero copy vs staging --------------------------------------------------------

TEST_F(Vulkan, Paths_ImportAndStagingGiveIdenticalImages) {
  const auto p = test::random_particles(3000, kW, kH, 7);
  std::vector<Image> images;
  for (auto lpath : {HostMemoryPath::kImport, HostMemoryPath::kStaging}) {
    for (auto rpath : {HostMemoryPath::kImport, HostMemoryPath::kStaging}) {
      auto cfg = config();
      cfg.layout_path = lpath;
      cfg.result_path = rpath;
      FrameInfo info;
      images.push_back(render_once(cfg, p, &info, 4096));
      EXPECT_EQ(info.layout_imported, lpath == HostMemoryPath::kImport);
      EXPECT_EQ(info.result_imported, rpath == HostMemoryPath::kImport);
    }
  }
  for (std::size_t i = 1; i < images.size(); ++i) EXPECT_EQ(images[i].rgba, images[0].rgba) << "path " << i;
}

TEST_F(Vulkan, Paths_MisalignedZoneFallsBackToStagingAndSaysSo) {
  // Zones 64 bytes past a page boundary: fine for the CPU, not importable.
  auto lz = HostZone::create(layout_zone_bytes(64) + kPageSize).value();
  auto rz = HostZone::create(result_zone_bytes(kW, kH) + kPageSize).value();
  const std::vector<std::span<std::byte>> layout{lz.bytes().subspan(64, layout_zone_bytes(64))};
  const std::vector<std::span<std::byte>> result{rz.bytes().subspan(64, result_zone_bytes(kW, kH))};
  auto r = VulkanRenderer::create(config(), layout, result);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_FALSE(r.value()->layout_binding(0).imported);
  EXPECT_NE(r.value()->layout_binding(0).note.find("not aligned"), std::string::npos) << r.value()->layout_binding(0).note;
  EXPECT_FALSE(r.value()->result_binding(0).imported);
  EXPECT_NE(r.value()->result_binding(0).note.find("not aligned"), std::string::npos);
  const std::vector<Particle> p{test::circle(64, 64, 30, rgba(255, 0, 0))};
  FrameInput in;
  in.compute_slot = bytes_of(p);
  in.particle_count = 1;
  auto t = r.value()->submit(in);
  ASSERT_TRUE(t.ok());
  auto info = r.value()->wait_frame(t.value(), kWait);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info.value().layout_imported);
  const Image img = image_from_result_zone(result[0]).value();
  EXPECT_TRUE(same_rgba(img.pixel(64, 64), 255, 0, 0, 255));
  expect_close(img, render_reference(p), test::kGoldenTolerance);
}

TEST_F(Vulkan, Paths_MemfdZonesImportOrFallBackWithAReason) {
  Zones z = Zones::make(64, kW, kH, 1, HostZone::Backing::kMemfd);
  auto r = VulkanRenderer::create(config(), z.layout, z.result);
  ASSERT_TRUE(r.ok()) << r.error().what();
  const auto& lb = r.value()->layout_binding(0);
  EXPECT_TRUE(lb.imported || !lb.note.empty());
  if (r.value()->device().host_import) {
    EXPECT_TRUE(lb.imported) << lb.note;
  }
  const std::vector<Particle> p{test::circle(64, 64, 30, rgba(0, 255, 0))};
  FrameInput in;
  in.compute_slot = bytes_of(p);
  in.particle_count = 1;
  auto t = r.value()->submit(in);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(r.value()->wait_frame(t.value(), kWait).ok());
  EXPECT_TRUE(same_rgba(image_from_result_zone(z.result[0]).value().pixel(64, 64), 0, 255, 0, 255));
}

// ---- pipelined readback --------------------------------------------------------------

std::vector<Particle> frame_scene(std::uint64_t f) {
  const float x = 12.0F + static_cast<float>(f % 10) * 10.0F;
  return {test::circle(x, 40, 10, rgba(255, static_cast<std::uint8_t>(f * 20), 0)),
          test::line(0, static_cast<float>(60 + f), 127, 0, 1.5F, rgba(0, 255, 255, 200))};
}

TEST_F(Vulkan, Readback_FramesInFlightLandInTheirResultZoneAnyPollOrder) {
  for (std::uint32_t fif : {2U, 3U}) {
    Zones z = Zones::make(64, kW, kH);
    auto cfg = config();
    cfg.frames_in_flight = fif;
    auto r = VulkanRenderer::create(cfg, z.layout, z.result);
    ASSERT_TRUE(r.ok()) << r.error().what();
    auto& vr = *r.value();
    std::vector<std::uint64_t> callback_tickets;
    std::mutex cb_mu;
    vr.set_frame_ready_callback([&](const FrameInfo& i) {
      std::lock_guard lk(cb_mu);
      callback_tickets.push_back(i.ticket);
    });
    constexpr std::uint64_t kFrames = 12;
    std::vector<std::vector<Particle>> scenes;
    for (std::uint64_t f = 0; f < kFrames; ++f) scenes.push_back(frame_scene(f));
    std::uint64_t wrong = 0;
    auto check = [&](std::uint64_t f) {
      auto info = vr.wait_frame(f, kWait);
      ASSERT_TRUE(info.ok()) << info.error().what();
      EXPECT_EQ(info.value().frame, 100 + f);
      EXPECT_EQ(info.value().result_zone, f % 3);
      std::uint64_t token = 0;
      const Image img = image_from_result_zone(z.result[f % 3], &token).value();
      EXPECT_EQ(token, 100 + f + 1) << "the zone holds frame " << f;
      auto d = compare_images(img, render_reference(scenes[f]), test::kGoldenTolerance);
      if (!d.ok() || d.value().pixels_over != 0) ++wrong;
    };
    // Submit three frames (one per result zone), then poll them out of order.
    for (std::uint64_t f = 0; f < 3; ++f) {
      FrameInput in{100 + f, bytes_of(scenes[f]), 2, static_cast<std::uint32_t>(f % 3), static_cast<std::uint32_t>(f % 3)};
      auto t = vr.submit(in);
      ASSERT_TRUE(t.ok()) << t.error().what();
      EXPECT_EQ(t.value(), f);
    }
    check(2);
    check(0);
    check(1);
    // Then a steady pipeline: check frame f - 2 after submitting frame f.
    for (std::uint64_t f = 3; f < kFrames; ++f) {
      FrameInput in{100 + f, bytes_of(scenes[f]), 2, static_cast<std::uint32_t>(f % 3), static_cast<std::uint32_t>(f % 3)};
      ASSERT_TRUE(vr.submit(in).ok());
      check(f - 2);
    }
    check(kFrames - 1);
    check(kFrames - 2);
    ASSERT_TRUE(vr.wait_idle(kWait).ok());
    EXPECT_EQ(wrong, 0U) << "frames whose pixels were not their own";
    EXPECT_EQ(vr.completed(), kFrames);
    EXPECT_EQ(vr.frame_ready().value.load(std::memory_order_acquire), static_cast<std::uint32_t>(kFrames));
    std::lock_guard lk(cb_mu);
    ASSERT_EQ(callback_tickets.size(), kFrames);
    for (std::uint64_t i = 0; i < kFrames; ++i) EXPECT_EQ(callback_tickets[i], i) << "in order, none lost or repeated";
  }
}

TEST_F(Vulkan, Readback_FrameReadyWakesAWaitingThread) {
  Zones z = Zones::make(64, kW, kH);
  WaitWord word;
  auto cfg = config();
  cfg.frame_ready_word = &word;
  auto r = VulkanRenderer::create(cfg, z.layout, z.result);
  ASSERT_TRUE(r.ok()) << r.error().what();
  std::atomic<std::uint32_t> seen{0};
  std::thread waiter([&] {
    std::uint32_t v = word.value.load(std::memory_order_acquire);
    while (v < 4) {
      (void)wait(word, v, std::chrono::seconds(1));
      v = word.value.load(std::memory_order_acquire);
    }
    seen.store(v, std::memory_order_release);
  });
  const auto scene = frame_scene(0);
  for (std::uint32_t f = 0; f < 4; ++f) {
    ASSERT_TRUE(r.value()->submit({f, bytes_of(scene), 2, f % 3, f % 3}).ok());
  }
  waiter.join();
  EXPECT_GE(seen.load(std::memory_order_acquire), 4U);
}

TEST_F(Vulkan, Readback_WithoutReadbackFramesStillComplete) {
  Zones z = Zones::make(64, kW, kH);
  auto cfg = config();
  cfg.readback = false;
  auto r = VulkanRenderer::create(cfg, z.layout, z.result);
  ASSERT_TRUE(r.ok()) << r.error().what();
  const auto scene = frame_scene(1);
  for (std::uint32_t f = 0; f < 5; ++f) ASSERT_TRUE(r.value()->submit({f, bytes_of(scene), 2, f % 3, 0}).ok());
  ASSERT_TRUE(r.value()->wait_idle(kWait).ok());
  std::uint64_t token = 99;
  (void)image_from_result_zone(z.result[0], &token);
  EXPECT_EQ(token, 0U) << "no pixels were published";
}

TEST_F(Vulkan, Trace_RenderStartAndEndAreStamped) {
  auto mem = HostZone::create(trace::FrameTraceTable::required_bytes(16)).value();
  auto table = trace::FrameTraceTable::create(mem.bytes().data(), mem.bytes().size(), 16);
  ASSERT_TRUE(table.ok()) << table.error().what();
  Zones z = Zones::make(64, kW, kH);
  auto cfg = config();
  cfg.trace = &table.value();
  auto r = VulkanRenderer::create(cfg, z.layout, z.result);
  ASSERT_TRUE(r.ok()) << r.error().what();
  const auto scene = frame_scene(3);
  std::vector<std::uint64_t> frames;
  for (int i = 0; i < 4; ++i) {
    const std::uint64_t f = table.value().begin_frame(trace::now_ns());
    frames.push_back(f);
    const auto zone = static_cast<std::uint32_t>(f % 3);
    ASSERT_TRUE(r.value()->submit({f, bytes_of(scene), 2, zone, zone}).ok());
  }
  ASSERT_TRUE(r.value()->wait_idle(kWait).ok());
  for (std::uint64_t f : frames) {
    trace::FrameSnapshot snap;
    ASSERT_EQ(table.value().try_read(f, snap), trace::ReadStatus::kOk);
    EXPECT_NE(snap.at(trace::Stage::kRenderStart), 0U);
    EXPECT_GE(snap.at(trace::Stage::kRenderEnd), snap.at(trace::Stage::kRenderStart));
  }
  EXPECT_EQ(table.value().duplicate_stamps() + table.value().stale_stamps() + table.value().invalid_stamps(), 0U);
}

// ---- GPU times -----------------------------------------------------------------

// Where the device offers VK_EXT_calibrated_timestamps, each frame's GPU
// begin/end (timestamp queries converted to CLOCK_MONOTONIC) lie inside the
// CPU's view of it: after the render was submitted (not before the layout
// pass ended) and before the completion thread saw it done; both paths.
TEST_F(Vulkan, GpuTimes_CalibratedInsideTheFramesCpuSubmitToDoneSpan) {
  for (const RasterPath raster : {RasterPath::kQuads, RasterPath::kSplat}) {
    Zones z = Zones::make(256, kW, kH);
    auto cfg = config();
    cfg.raster = raster;
    auto r = VulkanRenderer::create(cfg, z.layout, z.result);
    ASSERT_TRUE(r.ok()) << r.error().what();
    const GpuTimingChoice& timing = r.value()->gpu_timing();
    std::printf("%s: %s\n", r.value()->device().name.c_str(), timing.why.c_str());
    EXPECT_FALSE(timing.why.empty());
    // Used where offered (lavapipe offers it with both time domains).
    EXPECT_EQ(timing.calibrated, r.value()->device().calibrated_timestamps) << timing.why;
    const auto scene = test::random_particles(200, kW, kH, 11);
    std::vector<FrameInfo> frames;
    for (std::uint32_t f = 0; f < 12; ++f) {
      auto t = r.value()->submit({f, bytes_of(scene), 200, f % 3, f % 3});
      ASSERT_TRUE(t.ok()) << t.error().what();
      auto info = r.value()->wait_frame(t.value(), kWait);
      ASSERT_TRUE(info.ok()) << info.error().what();
      frames.push_back(info.value());
    }
    const auto slack = static_cast<std::int64_t>(timing.max_deviation_ns);
    for (const FrameInfo& f : frames) {
      if (!timing.calibrated) {
        EXPECT_EQ(f.gpu_begin_ns, 0);
        EXPECT_EQ(f.gpu_end_ns, 0);
        continue;
      }
      EXPECT_GE(f.gpu_begin_ns + slack, f.layout_end_ns) << "frame " << f.frame << ": the GPU began before the submit";
      EXPECT_LE(f.gpu_begin_ns, f.gpu_end_ns) << "frame " << f.frame;
      EXPECT_LE(f.gpu_end_ns, f.render_end_ns + slack) << "frame " << f.frame << ": the GPU ended after it was seen done";
    }
    if (timing.calibrated) {
      const FrameInfo& last = frames.back();
      std::printf("  last frame: submit->GPU begin %.3f ms, GPU %.3f ms, GPU end->seen done %.3f ms\n",
                  static_cast<double>(last.gpu_begin_ns - last.layout_end_ns) / 1e6,
                  static_cast<double>(last.gpu_end_ns - last.gpu_begin_ns) / 1e6,
                  static_cast<double>(last.render_end_ns - last.gpu_end_ns) / 1e6);
#if TRIPTYCH_TRACE
      // The same times are spans in the trace, on the CPU spans' clock.
      bool found = false;
      for (const trace::ThreadSpans& t : trace::collect_threads()) {
        for (const trace::SpanEvent& e : t.events) {
          found = found || (std::string_view(e.loc->name) == "GPU render" &&
                            e.begin_ns == static_cast<std::uint64_t>(last.gpu_begin_ns) &&
                            e.end_ns == static_cast<std::uint64_t>(last.gpu_end_ns));
        }
      }
      EXPECT_TRUE(found) << "the last frame's GPU render span is not in the trace";
#endif
    }
  }
}

// The conversion on made-up clocks: a device clock far from CLOCK_MONOTONIC,
// ticks of 2.5 ns, a 36-bit counter that wraps between calibration and stamp.
TEST(GpuClock, TicksConvertThroughTheCalibrationOffsetPeriodAndWrap) {
  GpuCalibration c;
  c.ticks = 7'000'000'000;  // within 36 bits (6.9e10)
  c.monotonic_ns = 123'456'789'000;
  c.tick_ns = 2.5;
  c.valid_bits = 36;
  EXPECT_EQ(gpu_ticks_to_monotonic_ns(c, c.ticks), c.monotonic_ns);
  EXPECT_EQ(gpu_ticks_to_monotonic_ns(c, c.ticks + 400), c.monotonic_ns + 1000);
  EXPECT_EQ(gpu_ticks_to_monotonic_ns(c, c.ticks - 400), c.monotonic_ns - 1000) << "a stamp before the calibration";
  EXPECT_EQ(gpu_ticks_to_monotonic_ns(c, c.ticks | (std::uint64_t{1} << 40)), c.monotonic_ns)
      << "bits above the valid ones are ignored";
  c.ticks = (std::uint64_t{1} << 36) - 100;  // 100 ticks before the counter wraps
  EXPECT_EQ(gpu_ticks_to_monotonic_ns(c, 300), c.monotonic_ns + 1000) << "400 ticks later, across the wrap";
}

// ---- hostile input -----------------------------------------------------------------

TEST_F(Vulkan, Hostile_InstanceDataIsCountedAndNeverHangs) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<Particle> p;
  p.push_back({nan, 10, 0, 0, 5, rgba(255, 0, 0), 0, 0});           // nonfinite
  p.push_back({10, inf, 0, 0, 5, rgba(255, 0, 0), 0, 0});           // nonfinite
  p.push_back({10, 10, 0, 0, nan, rgba(255, 0, 0), 0, 0});          // nonfinite
  p.push_back({10, 10, inf, 0, 5, rgba(255, 0, 0), 2, 0});          // nonfinite (line)
  p.push_back({10, 10, 0, 0, -1, rgba(255, 0, 0), 0, 0});           // bad size
  p.push_back({10, 10, 0, 0, 5, rgba(255, 0, 0), 99, 0});           // bad shape
  p.push_back({10, 10, 0, 0, 5, rgba(255, 0, 0), 0xFFFFFFFF, 0});   // bad shape
  p.push_back({64, 64, 0, 0, 1e30F, rgba(0, 0, 255, 40), 0, 0});    // clamped, drawn
  p.push_back({64, 64, 1e30F, 1e30F, 2, rgba(0, 255, 0, 40), 2, 0});  // clamped line, drawn
  p.push_back({3e38F, -3e38F, 0, 0, 5, rgba(255, 0, 0), 1, 0});     // culled (far away)
  p.push_back({64, 64, 0, 0, 5, rgba(255, 0, 0, 0), 0, 0});         // culled (transparent)
  p.push_back({64, 64, 0, 0, 0, rgba(255, 0, 0), 0, 0});            // culled (zero size)
  p.push_back({64, 64, 0, 0, 1e-30F, rgba(255, 0, 0), 1, 0});       // drawn, invisible
  const auto n = static_cast<std::uint32_t>(p.size());
  Zones z = Zones::make(64, kW, kH);
  auto r = VulkanRenderer::create(config(), z.layout, z.result);
  ASSERT_TRUE(r.ok()) << r.error().what();
  // particle_count claims more records than the slot holds: the rest are overflow.
  auto t = r.value()->submit({1, bytes_of(p), n + 1000, 0, 0});
  ASSERT_TRUE(t.ok()) << t.error().what();
  auto info = r.value()->wait_frame(t.value(), kWait);
  ASSERT_TRUE(info.ok()) << info.error().what();
  const LayoutStats& s = info.value().stats;
  EXPECT_EQ(s.input, n + 1000);
  EXPECT_EQ(s.nonfinite, 4U);
  EXPECT_EQ(s.bad_size, 1U);
  EXPECT_EQ(s.bad_shape, 2U);
  EXPECT_EQ(s.culled, 3U);
  EXPECT_EQ(s.drawn, 3U);
  EXPECT_EQ(s.clamped, 2U);
  EXPECT_EQ(s.overflow, 1000U);
  EXPECT_EQ(s.drawn + s.culled + s.dropped(), s.input);
  // Garbage bytes (every bit pattern) as particles, many frames: no crash, counters add up.
  std::vector<std::uint32_t> junk(32 * 4096);
  std::uint32_t x = 12345;
  for (auto& w : junk) w = (x = x * 1664525U + 1013904223U);
  for (std::uint32_t f = 0; f < 6; ++f) {
    auto slot = std::as_bytes(std::span<const std::uint32_t>(junk)).subspan(f * 64);
    auto tt = r.value()->submit({f, slot, 4000, f % 3, f % 3});
    ASSERT_TRUE(tt.ok()) << tt.error().what();
    auto ii = r.value()->wait_frame(tt.value(), kWait);
    ASSERT_TRUE(ii.ok()) << ii.error().what();
    const LayoutStats& js = ii.value().stats;
    EXPECT_EQ(js.drawn + js.culled + js.dropped(), js.input);
    EXPECT_EQ(js.overflow, 4000U - layout_zone_capacity(z.layout[0].size())) << "beyond the zone capacity";
  }
}

// ---- present path ------------------------------------------------------------------

class RecordingPresenter final : public Presenter {
 public:
  Result<void> present(const PresentImage& img) override {
    if (img.image == VK_NULL_HANDLE || img.rendered == VK_NULL_HANDLE || img.rendered_value != img.ticket + 1 ||
        img.extent.width != kW || img.layout != static_cast<std::uint32_t>(VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL) ||
        img.format != static_cast<std::uint32_t>(VK_FORMAT_R8G8B8A8_UNORM)) {
      ++bad;
    }
    if (img.ticket != presented) ++bad;
    ++presented;
    return {};
  }
  void retire(std::uint64_t ticket) override {
    if (ticket != retired || ticket >= presented) ++bad;
    ++retired;
  }
  std::uint64_t presented = 0;
  std::uint64_t retired = 0;
  std::uint64_t bad = 0;
};

TEST_F(Vulkan, Present_PresenterSeesEveryFrameAndRetiresBeforeReuse) {
  Zones z = Zones::make(64, kW, kH);
  auto cfg = config();
  cfg.frames_in_flight = 2;
  auto r = VulkanRenderer::create(cfg, z.layout, z.result);
  ASSERT_TRUE(r.ok()) << r.error().what();
  RecordingPresenter presenter;
  r.value()->set_presenter(&presenter);
  EXPECT_NE(r.value()->handles().device, VK_NULL_HANDLE);
  const auto scene = frame_scene(2);
  for (std::uint32_t f = 0; f < 6; ++f) ASSERT_TRUE(r.value()->submit({f, bytes_of(scene), 2, f % 3, f % 3}).ok());
  ASSERT_TRUE(r.value()->wait_idle(kWait).ok());
  EXPECT_EQ(presenter.presented, 6U);
  EXPECT_EQ(presenter.retired, 4U) << "slots of tickets 0..3 were reused by tickets 2..5";
  EXPECT_EQ(presenter.bad, 0U);
}

}  // namespace
}  // namespace triptych::render
