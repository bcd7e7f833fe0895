// SPDX-License-Identifier: Apache-2.0
// Test helper: a real, certified process death for TripleBuffer's recovery
// calls. fork()s a child that exits at once and reaps it with reap_child(),
// the same certification production code uses (sync/peer.hpp). The tests
// then play the "dead" role with a thread or a hand-made half call; a test
// that recovers against a live thread models a certificate for the wrong
// process. Call it before starting threads (fork in a threaded process is
// legal here, the child only calls _exit). Design: docs/sync.md ("Recovery").
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "triptych/sync/peer.hpp"

namespace triptych::testing {

inline CertifiedDeath dead_peer() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  if (pid < 0) std::abort();
  for (;;) {
    auto d = reap_child(pid);
    if (d.ok()) return d.value();
    if (d.error().code != Errc::kStale) std::abort();
    usleep(100);
  }
}

}  // namespace triptych::testing
