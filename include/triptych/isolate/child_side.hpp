// SPDX-License-Identifier: Apache-2.0
// What a render process does first, before it touches anything else: die
// with its host (PR_SET_PDEATHSIG, then a re-check of getppid() for a host
// that died before the call), and never dump core (a core file would hold
// the host's frames). Called once, on the child's main thread.
// Design: docs/isolation.md, "Processes".
#pragma once

#include <sys/types.h>

#include "triptych/core/result.hpp"

namespace triptych::isolate {

// kPeerLost when the host is already gone (the parent is not `host`).
[[nodiscard]] Result<void> bind_to_host(pid_t host);

}  // namespace triptych::isolate
