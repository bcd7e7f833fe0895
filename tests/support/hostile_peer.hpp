// SPDX-License-Identifier: Apache-2.0
// Test helper for the hostile-attach tests (tests/ring/ring_hostile_attach_test.cpp,
// tests/sync/triple_buffer_hostile_attach_test.cpp): a header Field named by its
// address and width, load() / store() that access it through a relaxed
// std::atomic_ref (as attach() reads header fields, so the peer's rewrites
// race with nothing and the tests run clean under TSan), and HostilePeer, the
// thread that keeps corrupting such fields and restoring them while the test
// attaches. load() and store() are wait-free and callable from any thread;
// HostilePeer is constructed, stopped and destroyed by one thread. Design:
// docs/rings.md and docs/sync.md ("Attach: read once, validate the snapshot").
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "triptych/sync/futex.hpp"

namespace triptych::hostile_test {

// One header field the peer may rewrite, with its width.
struct Field {
  void* at;
  unsigned bytes;  // 4 or 8
};

inline std::uint64_t load(const Field& f) noexcept {
  if (f.bytes == 4) {
    return std::atomic_ref<std::uint32_t>(*static_cast<std::uint32_t*>(f.at))
        .load(std::memory_order_relaxed);
  }
  return std::atomic_ref<std::uint64_t>(*static_cast<std::uint64_t*>(f.at))
      .load(std::memory_order_relaxed);
}

inline void store(const Field& f, std::uint64_t v) noexcept {
  if (f.bytes == 4) {
    std::atomic_ref<std::uint32_t>(*static_cast<std::uint32_t*>(f.at))
        .store(static_cast<std::uint32_t>(v), std::memory_order_relaxed);
  } else {
    std::atomic_ref<std::uint64_t>(*static_cast<std::uint64_t*>(f.at))
        .store(v, std::memory_order_relaxed);
  }
}

// A thread that, until stop(), picks one of `fields` at random, stores
// bad(rng, field, good value) into it, spins 0..63 cpu_relax(), then puts the
// good value back. The good values are read at construction, before the
// thread starts. `bad` runs on the peer thread and draws from its rng, so the
// sequence of rewrites is fixed by `seed`. Listing a field twice makes it
// twice as likely to be picked.
class HostilePeer {
 public:
  template <class Bad>
  HostilePeer(std::vector<Field> fields, std::uint64_t seed, Bad bad) : fields_(std::move(fields)) {
    for (const Field& f : fields_) good_.push_back(load(f));
    thread_ = std::thread([this, seed, bad] {
      std::mt19937_64 rng(seed);
      while (!stop_.load(std::memory_order_relaxed)) {
        const std::size_t i = rng() % fields_.size();
        const Field& f = fields_[i];
        store(f, bad(rng, f, good_[i]));
        for (int spin = static_cast<int>(rng() % 64); spin > 0; --spin) cpu_relax();
        store(f, good_[i]);
      }
    });
  }
  HostilePeer(const HostilePeer&) = delete;
  HostilePeer& operator=(const HostilePeer&) = delete;
  ~HostilePeer() { stop(); }

  // Ends the rewrites and joins the thread; every field holds its good value
  // again afterwards. Idempotent.
  void stop() {
    // Relaxed: the join below is what orders the peer's last store before
    // whatever the caller does next.
    stop_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::vector<Field> fields_;
  std::vector<std::uint64_t> good_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace triptych::hostile_test
