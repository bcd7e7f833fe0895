// SPDX-License-Identifier: Apache-2.0
// Running an engine to its end in a test: the wait asserts it returned well
// inside its timeout (half of it), not only that it returned. Test thread only.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "triptych/pipeline/engine.hpp"

namespace triptych::test {

inline void wait_well_inside(pipeline::Engine& engine, std::chrono::seconds timeout) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(engine.wait_finished(timeout)) << "the run did not finish within " << timeout.count() << " s";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, timeout / 2)
      << "the run must finish well inside its " << timeout.count() << " s wait";
}

// Creates and starts an engine for `c` and waits for its end (nullptr, with a
// failure, when create fails).
inline std::unique_ptr<pipeline::Engine> run_to_end(const pipeline::EngineConfig& c,
                                                    std::chrono::seconds timeout = std::chrono::seconds(60)) {
  auto e = pipeline::Engine::create(c);
  EXPECT_TRUE(e.ok()) << e.error().what();
  if (!e) return nullptr;
  std::unique_ptr<pipeline::Engine> engine = std::move(e).value();
  EXPECT_TRUE(engine->start().ok());
  wait_well_inside(*engine, timeout);
  engine->stop();
  return engine;
}

}  // namespace triptych::test
