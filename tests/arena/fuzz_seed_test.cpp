// SPDX-License-Identifier: Apache-2.0
// The fuzzer's seed arenas (fuzz/arena/corpus/arena_attach) attach, the way
// fuzz_arena_attach attaches its input (the bytes as the engine's memory, 16
// zeroed pages as the kernel's). A seed the protocol has outgrown would only
// exercise the first refusal and leave the sub-block checks unfuzzed; this
// catches that when the protocol changes. Single-threaded.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#include "triptych/arena/arena.hpp"

namespace triptych {
namespace {

constexpr std::size_t kKernelBytes = 16 * kPageSize;  // as in fuzz_arena_attach.cpp

TEST(ArenaFuzzSeeds, EverySeedAttachesAsTheFuzzerSeesIt) {
  const std::filesystem::path dir = TRIPTYCH_FUZZ_SEEDS;
  std::size_t seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(bytes.empty()) << entry.path();
    const std::size_t room = static_cast<std::size_t>(align_up(bytes.size(), kPageSize));
    std::unique_ptr<std::byte, decltype(&std::free)> engine(
        static_cast<std::byte*>(std::aligned_alloc(kPageSize, room)), &std::free);
    std::unique_ptr<std::byte, decltype(&std::free)> kernel(
        static_cast<std::byte*>(std::aligned_alloc(kPageSize, kKernelBytes)), &std::free);
    std::memcpy(engine.get(), bytes.data(), bytes.size());
    std::memset(kernel.get(), 0, kKernelBytes);
    auto a = Arena::attach_external(HostMemories{kernel.get(), kKernelBytes, engine.get(), bytes.size(), 0});
    EXPECT_TRUE(a.ok()) << entry.path() << ": " << (a.ok() ? "" : a.error().what())
                        << " (re-make the seeds for the current protocol)";
    ++seeds;
  }
  EXPECT_GE(seeds, 2u);
}

}  // namespace
}  // namespace triptych
