// SPDX-License-Identifier: Apache-2.0
// The process-wide engine registry (contracts in registry.hpp): one mutex
// around an id -> engine map. Blocking (the mutex is held only for a map
// operation); any thread may call. Design: docs/node.md.
#include "registry.hpp"

#include <mutex>
#include <unordered_map>

namespace triptych::node {
namespace {

struct Registry {
  std::mutex mu;
  std::uint32_t next_id = 1;
  std::unordered_map<std::uint32_t, std::shared_ptr<pipeline::Engine>> engines;
};

// Process-wide on purpose: worker threads' addon instances reach the main
// thread's engine through it. Function-local, so constructed on first use.
Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

std::uint32_t register_engine(std::shared_ptr<pipeline::Engine> engine) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  const std::uint32_t id = r.next_id++;
  r.engines.emplace(id, std::move(engine));
  return id;
}

std::shared_ptr<pipeline::Engine> find_engine(std::uint32_t id) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.engines.find(id);
  return it == r.engines.end() ? nullptr : it->second;
}

std::shared_ptr<pipeline::Engine> unregister_engine(std::uint32_t id) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.engines.find(id);
  if (it == r.engines.end()) return nullptr;
  auto engine = std::move(it->second);
  r.engines.erase(it);
  return engine;
}

}  // namespace triptych::node
