// SPDX-License-Identifier: Apache-2.0
// The render process's supervisor: see include/triptych/isolate/supervisor.hpp.
#include "triptych/isolate/supervisor.hpp"

#include "os_calls.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "triptych/sync/futex.hpp"

namespace triptych::isolate {

using detail::system_error;
namespace {

// epoll user data: which fd woke us.
enum Source : std::uint64_t { kStop = 1, kTimer = 2, kPidfd = 3, kChannel = 4 };

Result<void> add(int epoll, int fd, std::uint32_t events, Source source) {
  epoll_event e{};
  e.events = events;
  e.data.u64 = source;
  if (::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &e) != 0) return system_error("epoll_ctl add");
  return {};
}

}  // namespace

Result<std::unique_ptr<Supervisor>> Supervisor::create(Config config) {
  if (config.hang_timeout < std::chrono::milliseconds(8)) {
    return make_error(Errc::kInvalidArgument, "hang timeout must be at least 8 ms");
  }
  std::unique_ptr<Supervisor> s(new Supervisor(std::move(config)));
  s->epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  s->timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  s->stop_event_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!s->epoll_.valid() || !s->timer_.valid() || !s->stop_event_.valid()) return system_error("supervisor fds");
  // A hang is seen at most one tick late: T/8, and never over 20 ms.
  const auto tick = std::min<std::chrono::nanoseconds>(s->cfg_.hang_timeout / 8, std::chrono::milliseconds(20));
  itimerspec spec{};
  spec.it_interval.tv_sec = static_cast<time_t>(tick.count() / 1'000'000'000);
  spec.it_interval.tv_nsec = static_cast<long>(tick.count() % 1'000'000'000);
  spec.it_value = spec.it_interval;
  if (::timerfd_settime(s->timer_.get(), 0, &spec, nullptr) != 0) return system_error("timerfd_settime");
  if (auto ok = add(s->epoll_.get(), s->stop_event_.get(), EPOLLIN, kStop); !ok) return ok.error();
  if (auto ok = add(s->epoll_.get(), s->timer_.get(), EPOLLIN, kTimer); !ok) return ok.error();
  s->thread_ = std::thread([p = s.get()] { p->run(); });
  return s;
}

Supervisor::~Supervisor() { stop(); }

Result<void> Supervisor::watch(ChildProcess child, int channel_fd, const std::atomic<std::uint64_t>* progress,
                               std::uint64_t epoch) {
  std::lock_guard<std::mutex> lock(mu_);
  if (watching_) return make_error(Errc::kInvalidArgument, "the supervisor already watches a render process");
  if (child.reaped()) return make_error(Errc::kInvalidArgument, "no child to watch");
  if (auto ok = add(epoll_.get(), child.pidfd(), EPOLLIN, kPidfd); !ok) return ok.error();
  // No EPOLLIN: messages are the session's business; only a hang-up wakes us.
  if (channel_fd >= 0) {
    if (auto ok = add(epoll_.get(), channel_fd, EPOLLRDHUP, kChannel); !ok) {
      (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, child.pidfd(), nullptr);
      return ok.error();
    }
  }
  child_ = std::move(child);
  channel_fd_ = channel_fd;
  progress_ = progress;
  epoch_ = epoch;
  last_progress_ = progress != nullptr ? progress->load(std::memory_order_relaxed) : 0;
  last_change_ = std::chrono::steady_clock::now();
  watching_ = true;
  return {};
}

bool Supervisor::watching() const noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  return watching_;
}

SupervisorCounters Supervisor::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void Supervisor::kill_watched() noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (watching_) (void)child_.signal(SIGKILL);
}

void Supervisor::stop() noexcept {
  if (!thread_.joinable()) return;
  const std::uint64_t one = 1;
  (void)!::write(stop_event_.get(), &one, sizeof one);
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  child_.kill_and_reap();
  watching_ = false;
}

void Supervisor::run() {
  for (;;) {
    epoll_event events[4];
    const int n = ::epoll_wait(epoll_.get(), events, 4, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // cannot happen with valid fds; stop() still reaps
    }
    bool died = false;
    for (int i = 0; i < n; ++i) {
      switch (events[i].data.u64) {
        case kStop: return;
        case kTimer: {
          std::uint64_t ticks = 0;
          (void)!::read(timer_.get(), &ticks, sizeof ticks);
          check_progress();
          break;
        }
        case kPidfd:
        case kChannel: died = true; break;
        default: break;
      }
    }
    if (died) lose_child(false);
  }
}

// No change of the progress word for hang_timeout: the child hangs (or is
// stopped); SIGKILL it. Its pidfd then reports the death like any other.
void Supervisor::check_progress() {
  bool hung = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!watching_ || progress_ == nullptr) return;
    const auto now = std::chrono::steady_clock::now();
    const std::uint64_t p = progress_->load(std::memory_order_relaxed);  // hostile: only its change is used
    if (p != last_progress_) {
      last_progress_ = p;
      last_change_ = now;
      return;
    }
    hung = now - last_change_ >= cfg_.hang_timeout;
  }
  if (hung) lose_child(true);
}

void Supervisor::lose_child(bool hang_killed) {
  ChildLoss loss;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!watching_) return;
    (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, child_.pidfd(), nullptr);
    if (channel_fd_ >= 0) (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, channel_fd_, nullptr);
    // A hang-up without an exit, or a hang: make it a death.
    (void)child_.signal(SIGKILL);
    auto exit = child_.reap(std::chrono::seconds(10));
    loss.epoch = epoch_;
    loss.exit = exit ? exit.value() : ChildExit{true, SIGKILL};
    loss.hang_killed = hang_killed;
    loss.seen = std::chrono::steady_clock::now();
    ++counters_.deaths;
    if (hang_killed) ++counters_.hangs_killed;
    if (loss.exit.signaled && loss.exit.code > 0 && loss.exit.code < 65) {
      ++counters_.by_signal[static_cast<std::size_t>(loss.exit.code)];
    } else if (!loss.exit.signaled) {
      ++counters_.exits;
    }
    child_ = ChildProcess::none();
    channel_fd_ = -1;
    progress_ = nullptr;
    watching_ = false;
  }
  // The report first: whoever sees the epoch move also sees the loss reported.
  if (cfg_.on_lost) cfg_.on_lost(loss);
  // SYNC(peer-epoch): release pairs with a waiter's acquire of the epoch word:
  // it then sees the session as lost and returns PeerLost.
  (void)fetch_add_and_wake(epoch_word_, 1, INT_MAX);
}

}  // namespace triptych::isolate
