// SPDX-License-Identifier: Apache-2.0
// Concurrency test for SlotTable: one owner thread allocates and releases
// handles as fast as it can while resolver threads resolve handles they read
// from a shared mailbox. Every successful resolve must return the value the
// owner stored for exactly that {index, generation}: a resolve that returns
// another generation's value is a torn or stale read accepted, counted, and
// must be 0. Runs under TSan (label concurrency).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <thread>
#include <vector>

#include "triptych/arena/handle.hpp"

namespace triptych {
namespace {

// Fewer rounds under sanitizers: TSan slows each atomic by ~10x.
constexpr std::uint64_t kRounds = TRIPTYCH_SANITIZED ? 100'000 : 1'000'000;
constexpr std::uint32_t kCapacity = 4;  // tiny, so slots are reused constantly
constexpr int kResolvers = 2;

std::uint64_t value_for(Handle h) {
  return (std::uint64_t{h.generation} << 32) | h.index;
}

std::uint64_t pack(Handle h) {
  return (std::uint64_t{h.generation} << 32) | h.index;
}
Handle unpack(std::uint64_t v) {
  return Handle{static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(v >> 32)};
}

TEST(Handle, SlotTable_ConcurrentResolveNeverAcceptsAReusedSlot) {
  alignas(kCacheLine) static std::byte mem[4096];
  auto t = SlotTable::create(mem, sizeof(mem), kCapacity);
  ASSERT_TRUE(t.ok());
  SlotTable owner = t.value();

  // Mailbox of recently issued handles; relaxed is enough: the handle's
  // validity is established by the table's own generation check, not by it.
  std::array<std::atomic<std::uint64_t>, kCapacity> mailbox{};
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> wrong_value{0};
  std::atomic<std::uint64_t> ok{0};

  std::vector<std::thread> resolvers;
  for (int r = 0; r < kResolvers; ++r) {
    resolvers.emplace_back([&, r] {
      auto view = SlotTable::attach(mem, sizeof(mem));
      if (!view.ok()) {
        wrong_value.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      std::uint32_t i = static_cast<std::uint32_t>(r);
      while (!stop.load(std::memory_order_relaxed)) {
        const Handle h = unpack(mailbox[i % kCapacity].load(std::memory_order_relaxed));
        ++i;
        std::uint64_t v = 0;
        if (view->try_resolve(h, v) == ResolveStatus::kOk) {
          if (v != value_for(h)) wrong_value.fetch_add(1, std::memory_order_relaxed);
          ok.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }

  // Fill the table, then each round release the oldest handle and allocate
  // again: the freed slot is the only free one, so the new handle is
  // {index, old generation + 2}, and its value can name it before it is live.
  std::array<Handle, kCapacity> held{};
  for (std::uint32_t i = 0; i < kCapacity; ++i) {
    auto h = owner.try_allocate(value_for(Handle{i, 1}));
    ASSERT_TRUE(h.has_value());
    ASSERT_EQ(*h, (Handle{i, 1}));
    held[i] = *h;
    mailbox[i].store(pack(*h), std::memory_order_relaxed);
  }
  std::uint64_t issued = 0;
  for (std::uint64_t round = 0; round < kRounds; ++round) {
    const auto k = static_cast<std::uint32_t>(round % kCapacity);
    ASSERT_TRUE(owner.release(held[k]));
    const Handle next{held[k].index, held[k].generation + 2};
    auto h = owner.try_allocate(value_for(next));
    ASSERT_TRUE(h.has_value());
    ASSERT_EQ(*h, next);
    held[k] = *h;
    mailbox[k].store(pack(*h), std::memory_order_relaxed);
    ++issued;
  }
  stop.store(true, std::memory_order_relaxed);
  for (auto& th : resolvers) th.join();

  EXPECT_EQ(wrong_value.load(std::memory_order_relaxed), 0u) << "a resolve accepted a value of another generation";
  EXPECT_EQ(issued, kRounds);
  EXPECT_LE(owner.live(), kCapacity);
  // The test must exercise both outcomes, or it proves nothing.
  EXPECT_GT(ok.load(std::memory_order_relaxed) + owner.stale_rejections(), 0u);
  EXPECT_EQ(owner.out_of_range_rejections(), 0u);
}

}  // namespace
}  // namespace triptych
