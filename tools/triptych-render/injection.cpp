// SPDX-License-Identifier: Apache-2.0
// The render process's test-only injection points: see injection.hpp.
#include "injection.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace triptych::render_process {

namespace {

struct NamedPoint {
  std::string_view name;
  InjectionPoint point;
};
constexpr NamedPoint kPoints[] = {
    {"handshake", InjectionPoint::kHandshake},   {"wait-render", InjectionPoint::kWaitRender},
    {"mid-result", InjectionPoint::kMidResult},  {"before-seal", InjectionPoint::kBeforeSeal},
    {"before-done", InjectionPoint::kBeforeDone},
};

[[noreturn]] void die() {
  ::kill(::getpid(), SIGKILL);
  std::abort();  // unreachable: SIGKILL cannot be caught
}

}  // namespace

Result<Injection> Injection::from_environment() {
  const char* plan = std::getenv("TRIPTYCH_RENDER_DIE_AT");
  return parse(plan == nullptr ? std::string_view{} : std::string_view{plan});
}

Result<Injection> Injection::parse(std::string_view plan) {
  Injection inj;
  while (!plan.empty()) {
    const std::size_t comma = plan.find(',');
    const std::string_view item = plan.substr(0, comma);
    plan = comma == std::string_view::npos ? std::string_view{} : plan.substr(comma + 1);
    Entry e;
    if (item != "-") {
      const std::size_t colon = item.find(':');
      const std::string_view name = item.substr(0, colon);
      for (const NamedPoint& p : kPoints) {
        if (p.name == name) e.point = p.point;
      }
      if (colon != std::string_view::npos) {
        const std::string digits(item.substr(colon + 1));
        char* end = nullptr;
        const unsigned long n = std::strtoul(digits.c_str(), &end, 10);
        e.nth = (digits.empty() || *end != '\0' || n == 0 || n > 1'000'000) ? 0 : static_cast<std::uint32_t>(n);
      }
      if (e.point == InjectionPoint::kNone || e.nth == 0) {
        return make_error(Errc::kInvalidArgument,
                          "TRIPTYCH_RENDER_DIE_AT: cannot parse '" + std::string(item) +
                              "' (want -, or POINT[:N] with POINT one of handshake, wait-render, mid-result, "
                              "before-seal, before-done, and N >= 1)");
      }
    }
    inj.plan_.push_back(e);
  }
  return inj;
}

Injection::Entry Injection::entry_for(std::uint64_t epoch) const noexcept {
  if (plan_.empty()) return {};
  return plan_[epoch % plan_.size()];
}

void Injection::arm(std::uint64_t epoch) noexcept {
  armed_ = entry_for(epoch);
  reached_ = 0;
}

void Injection::reach(InjectionPoint point) noexcept {
  if (point != armed_.point) return;
  if (++reached_ == armed_.nth) die();
}

Result<isolate::ChildSession> Injection::child_handshake(isolate::Channel& channel,
                                                        std::chrono::steady_clock::time_point deadline) const {
  bool named = false;
  for (const Entry& e : plan_) named = named || e.point == InjectionPoint::kHandshake;
  if (!named) return isolate::child_handshake(channel, deadline);
  auto pair = isolate::Channel::make_pair();
  if (!pair) return pair.error();
  auto [relay_end, inner] = std::move(pair).value();
  // HELLO out, ATTACH in (killed here when its epoch says so), READY out.
  std::thread relay([&channel, relay_end = std::move(relay_end), deadline, this]() mutable {
    auto hello = relay_end.receive(deadline);
    if (!hello || !channel.send(hello.value().bytes)) return;
    auto attach = channel.receive(deadline);
    if (!attach) return;
    isolate::AttachMessage a;
    if (attach.value().bytes.size() == sizeof a) {
      std::memcpy(&a, attach.value().bytes.data(), sizeof a);
      if (a.header.kind == static_cast<std::uint16_t>(isolate::MessageKind::kAttach) &&
          entry_for(a.epoch).point == InjectionPoint::kHandshake) {
        die();
      }
    }
    std::vector<int> fds;
    for (const auto& fd : attach.value().fds) fds.push_back(fd.get());
    if (!relay_end.send(attach.value().bytes, fds)) return;
    auto ready = relay_end.receive(deadline);
    if (ready) (void)channel.send(ready.value().bytes);
  });
  auto session = isolate::child_handshake(inner, deadline);
  inner.close();  // a relay still waiting on it sees the hang-up
  relay.join();
  return session;
}

}  // namespace triptych::render_process
