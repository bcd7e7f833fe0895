// SPDX-License-Identifier: Apache-2.0
// The process-wide engine registry. Node workers each load their own addon
// instance (their own Napi::Addon) yet must join the main thread's engine, so
// engines are registered here under ids, never pointers, with shared
// ownership. Blocking (one mutex, held only for a map operation); any thread
// may call. Design: docs/node.md.
#pragma once

#include <cstdint>
#include <memory>

#include "triptych/pipeline/engine.hpp"

namespace triptych::node {

// Registers `engine` and returns its id (never 0, never reused).
std::uint32_t register_engine(std::shared_ptr<pipeline::Engine> engine);

// The engine registered under `id`, or null.
std::shared_ptr<pipeline::Engine> find_engine(std::uint32_t id);

// Removes the engine registered under `id` and returns it, or null.
std::shared_ptr<pipeline::Engine> unregister_engine(std::uint32_t id);

}  // namespace triptych::node
