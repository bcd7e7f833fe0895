// SPDX-License-Identifier: Apache-2.0
// The render process's first steps: see include/triptych/isolate/child_side.hpp.
#include "triptych/isolate/child_side.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace triptych::isolate {

Result<void> bind_to_host(pid_t host) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    return make_error(Errc::kSystem, std::string("PR_SET_PDEATHSIG: ") + std::strerror(errno));
  }
  // The host may have died between spawn and the prctl: then no signal comes.
  if (::getppid() != host) {
    return make_error(Errc::kPeerLost, "the host (pid " + std::to_string(host) + ") is gone before the render process started");
  }
  const rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0) {
    return make_error(Errc::kSystem, std::string("RLIMIT_CORE: ") + std::strerror(errno));
  }
  return {};
}

}  // namespace triptych::isolate
