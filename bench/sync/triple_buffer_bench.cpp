// SPDX-License-Identifier: Apache-2.0
// Cost of TripleBuffer::publish() and acquire_latest() in ns per call,
// uncontended (one thread) and contended (writer and reader pinned to the
// two CPUs from argv, default 0 1), against a std::mutex-guarded index swap
// measured in the same run. Each sample is the mean of a batch of calls, so
// clock reads do not dominate; p50/p99 are over batches. Design and how to
// read the numbers: docs/sync.md ("Triple buffer").
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#include "sync/harness.hpp"
#include "triptych/sync/triple_buffer.hpp"

namespace triptych::bench {
namespace {

constexpr std::size_t kSlotBytes = 4096;
constexpr int kBatch = 1000;
constexpr int kUncontendedBatches = 300;
constexpr int kContendedBatches = 500;

// The peer: the same three-slot hand-off, ownership guarded by a mutex.
class MutexTripleBuffer {
 public:
  explicit MutexTripleBuffer(std::byte* slots) : slots_(slots) {}
  std::byte* write_slot() {
    std::lock_guard lock(m_);
    return slots_ + w_ * kSlotBytes;
  }
  std::uint64_t publish() {
    std::lock_guard lock(m_);
    std::swap(w_, back_);
    dirty_ = true;
    return ++generation_;
  }
  bool acquire_latest() {
    std::lock_guard lock(m_);
    if (!dirty_) return false;
    std::swap(r_, back_);
    dirty_ = false;
    return true;
  }

 private:
  std::mutex m_;
  std::byte* slots_;
  std::size_t w_ = 0, back_ = 1, r_ = 2;
  bool dirty_ = false;
  std::uint64_t generation_ = 0;
};

template <class Op>
std::vector<double> time_batches(int batches, Op&& op) {
  std::vector<double> ns;
  ns.reserve(static_cast<std::size_t>(batches));
  for (int b = 0; b < batches; ++b) {
    const std::uint64_t t0 = now_ns();
    for (int i = 0; i < kBatch; ++i) op(i);
    ns.push_back(static_cast<double>(now_ns() - t0) / kBatch);
  }
  return ns;
}

struct Contended {
  Summary writer;
  Summary reader;
  double new_fraction;
  double writer_share;
  double reader_share;
};

// Writer publishes flat out on cpus.a; the reader acquires flat out on cpus.b
// until the writer finishes.
template <class Publish, class Acquire>
Contended run_contended(const Cpus& cpus, Publish&& publish, Acquire&& acquire) {
  StartLine line;
  std::atomic<bool> writer_done{false};
  std::vector<double> w_ns, r_ns;
  std::uint64_t fresh = 0, calls = 0;
  double w_share = 0, r_share = 0;
  std::thread writer([&] {
    pin_this_thread(cpus.a);
    line.arrive_and_wait();
    const CpuShare share;
    w_ns = time_batches(kContendedBatches, publish);
    w_share = share.share();
    writer_done.store(true, std::memory_order_release);
  });
  std::thread reader([&] {
    pin_this_thread(cpus.b);
    line.arrive_and_wait();
    const CpuShare share;
    while (!writer_done.load(std::memory_order_acquire)) {
      const std::uint64_t t0 = now_ns();
      for (int i = 0; i < kBatch; ++i) fresh += acquire() ? 1u : 0u;
      r_ns.push_back(static_cast<double>(now_ns() - t0) / kBatch);
      calls += kBatch;
    }
    r_share = share.share();
  });
  writer.join();
  reader.join();
  return {summarize(w_ns), summarize(r_ns),
          calls ? static_cast<double>(fresh) / static_cast<double>(calls) : 0.0, w_share, r_share};
}

int run(int argc, char** argv) {
  const Cpus cpus = parse_cpus(argc, argv);
  std::printf("TripleBuffer publish / acquire_latest cost (cpus %d,%d; %d calls per sample)\n",
              cpus.a, cpus.b, kBatch);

  Arena arena(kPageSize + 3 * kSlotBytes);
  auto created = TripleBuffer::create(
      arena.base(), arena.size(), 0,
      {kPageSize, kPageSize + kSlotBytes, kPageSize + 2 * kSlotBytes}, kSlotBytes);
  if (!created.ok()) {
    std::fprintf(stderr, "create failed: %s\n", created.error().what().c_str());
    return 1;
  }
  TripleBuffer tb = created.value();
  MutexTripleBuffer peer(arena.base() + kPageSize);
  std::uint64_t sink = 0;

  // Uncontended, on cpus.a.
  Summary tb_pub, tb_clean, tb_pair, mx_pub, mx_clean;
  std::thread solo([&] {
    pin_this_thread(cpus.a);
    tb_pub = summarize(time_batches(kUncontendedBatches, [&](int i) {
      tb.write_slot()[0] = static_cast<std::byte>(i);
      sink += tb.publish();
    }));
    (void)tb.acquire_latest();
    tb_clean = summarize(
        time_batches(kUncontendedBatches, [&](int) { sink += tb.acquire_latest().generation; }));
    tb_pair = summarize(time_batches(kUncontendedBatches, [&](int i) {
      tb.write_slot()[0] = static_cast<std::byte>(i);
      sink += tb.publish();
      sink += tb.acquire_latest().generation;
    }));
    mx_pub = summarize(time_batches(kUncontendedBatches, [&](int i) {
      peer.write_slot()[0] = static_cast<std::byte>(i);
      sink += peer.publish();
    }));
    (void)peer.acquire_latest();
    mx_clean = summarize(
        time_batches(kUncontendedBatches, [&](int) { sink += peer.acquire_latest() ? 1u : 0u; }));
  });
  solo.join();

  print_header("uncontended (one thread)", "ns");
  print_row("TripleBuffer write 8 B + publish", tb_pub);
  print_row("TripleBuffer acquire_latest, nothing new", tb_clean);
  print_row("TripleBuffer publish + acquire_latest (new)", tb_pair);
  print_row("peer: mutex write 8 B + publish", mx_pub);
  print_row("peer: mutex acquire, nothing new", mx_clean);

  const Contended tbc = run_contended(
      cpus,
      [&](int i) {
        tb.write_slot()[0] = static_cast<std::byte>(i);
        sink += tb.publish();
      },
      [&] { return tb.acquire_latest().is_new; });
  const Contended mxc = run_contended(
      cpus,
      [&](int i) {
        peer.write_slot()[0] = static_cast<std::byte>(i);
        sink += peer.publish();
      },
      [&] { return peer.acquire_latest(); });

  print_header("contended (writer and reader flat out on two CPUs)", "ns");
  print_row("TripleBuffer publish", tbc.writer);
  print_row("TripleBuffer acquire_latest", tbc.reader);
  print_row("peer: mutex publish", mxc.writer);
  print_row("peer: mutex acquire", mxc.reader);
  std::printf("  reader found a new frame on %.1f%% (TripleBuffer) / %.1f%% (mutex) of calls\n",
              100.0 * tbc.new_fraction, 100.0 * mxc.new_fraction);
  warn_if_descheduled(std::min(tbc.writer_share, mxc.writer_share),
                      std::min(tbc.reader_share, mxc.reader_share));

  std::printf("\nratios (peer / TripleBuffer, p50; >1 means TripleBuffer is faster)\n");
  std::printf("  uncontended publish      %6.2fx\n", mx_pub.p50 / tb_pub.p50);
  std::printf("  uncontended clean read   %6.2fx\n", mx_clean.p50 / tb_clean.p50);
  std::printf("  contended publish        %6.2fx\n", mxc.writer.p50 / tbc.writer.p50);
  std::printf("  contended acquire        %6.2fx\n", mxc.reader.p50 / tbc.reader.p50);
  std::printf(
      "reference, not a ratio: the published triple-buffer Rust crate is quoted (issue 3) at\n"
      "~7 ns write and ~1 ns clean read on another machine; a rough scale only.\n");
  std::printf("(checksum %llu)\n", static_cast<unsigned long long>(sink % 1000));
  return 0;
}

}  // namespace
}  // namespace triptych::bench

int main(int argc, char** argv) {
  return triptych::bench::run(argc, argv);
}
