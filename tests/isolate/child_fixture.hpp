// SPDX-License-Identifier: Apache-2.0
// Spawning the render-process stand-in (test_child.cpp) in a mode, with the
// host's end of its channel; fd and child counts for leak checks.
#pragma once

#include <unistd.h>

#include <string>
#include <utility>

#include "triptych/isolate/channel.hpp"
#include "support/process_probe.hpp"
#include "triptych/isolate/child_process.hpp"

namespace triptych::isolate::test {

struct SpawnedChild {
  ChildProcess process = ChildProcess::none();
  Channel channel;
};

inline Result<SpawnedChild> spawn_child(const std::string& mode) {
  auto pair = Channel::make_pair();
  if (!pair) return pair.error();
  SpawnSpec spec;
  spec.path = TRIPTYCH_ISOLATE_TEST_CHILD;
  spec.args = {mode, std::to_string(::getpid())};
  spec.pass_fds = {pair.value().second.fd()};
  auto child = ChildProcess::spawn(spec);
  if (!child) return child.error();
  return SpawnedChild{std::move(child).value(), std::move(pair.value().first)};
}

using triptych::test::no_children;
using triptych::test::open_fd_count;

}  // namespace triptych::isolate::test
