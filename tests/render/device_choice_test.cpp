// SPDX-License-Identifier: Apache-2.0
// The device ranking (render::choose_device, vulkan_renderer.hpp), on made-up
// device lists, no Vulkan needed: the best usable type wins, ties go to the
// first, unusable devices are skipped unless asked for (then refused), and a
// choice by index or name is honoured or refused with every device listed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "triptych/render/vulkan_renderer.hpp"

namespace triptych::render {
namespace {

DeviceInfo device(std::uint32_t index, std::string name, std::string type, bool usable = true) {
  DeviceInfo d;
  d.index = index;
  d.name = std::move(name);
  d.type = std::move(type);
  d.usable = usable;
  return d;
}

DeviceChoice by_index(int index) {
  DeviceChoice c;
  c.index = index;
  return c;
}

DeviceChoice by_name(std::string name) {
  DeviceChoice c;
  c.name = std::move(name);
  return c;
}

const std::vector<DeviceInfo> kMixed{device(0, "llvmpipe", "cpu"), device(1, "Old GPU", "discrete", false),
                                     device(2, "Laptop iGPU", "integrated"), device(3, "Big GPU", "discrete"),
                                     device(4, "Second GPU", "discrete")};

TEST(DeviceChoice, TakesTheFirstUsableDeviceOfTheBestType) {
  auto pick = choose_device(kMixed, {});
  ASSERT_TRUE(pick.ok()) << pick.error().what();
  EXPECT_EQ(pick->index, 3U) << "discrete beats integrated and cpu; the unusable discrete one is skipped";
  EXPECT_NE(pick->why.find("best type"), std::string::npos) << pick->why;
}

TEST(DeviceChoice, RanksIntegratedOverVirtualOverCpuOverOther) {
  const std::vector<DeviceInfo> d{device(0, "a", "other"), device(1, "b", "cpu"), device(2, "c", "virtual"),
                                  device(3, "d", "integrated")};
  EXPECT_EQ(choose_device(d, {})->index, 3U);
  EXPECT_EQ(choose_device({d[0], d[1], d[2]}, {})->index, 2U);
  EXPECT_EQ(choose_device({d[0], d[1]}, {})->index, 1U);
  EXPECT_EQ(choose_device({d[0]}, {})->index, 0U);
}

TEST(DeviceChoice, RefusesWhenNoDeviceIsUsableAndListsThem) {
  const std::vector<DeviceInfo> d{device(0, "broken", "discrete", false)};
  auto pick = choose_device(d, {});
  ASSERT_FALSE(pick.ok());
  EXPECT_EQ(pick.error().code, Errc::kUnsupported);
  EXPECT_NE(pick.error().message.find("[0] broken (discrete, unusable)"), std::string::npos) << pick.error().message;
  EXPECT_FALSE(choose_device({}, {}).ok());
}

TEST(DeviceChoice, HonoursAnIndexAndRefusesOneOutOfRangeOrUnusable) {
  auto pick = choose_device(kMixed, by_index(0));
  ASSERT_TRUE(pick.ok());
  EXPECT_EQ(pick->index, 0U);
  EXPECT_FALSE(choose_device(kMixed, by_index(5)).ok());
  auto unusable = choose_device(kMixed, by_index(1));
  ASSERT_FALSE(unusable.ok());
  EXPECT_NE(unusable.error().message.find("'Old GPU' is unusable"), std::string::npos) << unusable.error().message;
}

TEST(DeviceChoice, MatchesANameCaseInsensitivelyFirstMatchFirst) {
  auto pick = choose_device(kMixed, by_name("gpu"));
  ASSERT_FALSE(pick.ok()) << "the first match, 'Old GPU', is unusable";
  pick = choose_device(kMixed, by_name("BIG"));
  ASSERT_TRUE(pick.ok());
  EXPECT_EQ(pick->index, 3U);
  EXPECT_FALSE(choose_device(kMixed, by_name("nothing like it")).ok());
}

}  // namespace
}  // namespace triptych::render
