// SPDX-License-Identifier: Apache-2.0
// triptych-trace-demo: pushes N frames through a synthetic pipeline on three
// plain threads (frame loop -> compute -> render+present), stamping all six
// stages in a FrameTraceTable, timing named spans, and handing frames over
// through futex words measured by timed_wait(). Writes DIR/trace.json,
// frames.csv, stats.json, report.html and trace-table.bin (the raw table, for
// triptych-report). A frame that arrives while compute is still busy is
// dropped, as a mailbox pipeline would. Exit 0 ok, 1 failure, 2 bad flags.
// docs/tracing.md ("Tools").
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "triptych/report/export.hpp"
#include "triptych/trace/trace.hpp"

namespace {

using namespace triptych;
using namespace triptych::trace;
using namespace triptych::report;
using namespace std::chrono_literals;

constexpr const char* kUsage =
    "usage: triptych-trace-demo [options]\n"
    "  Simulates frames through queued -> compute -> render -> present on real threads\n"
    "  and writes a trace you can open.\n"
    "  --frames N        frames to issue (default 600)\n"
    "  --rate HZ         frame rate of the loop (default 120)\n"
    "  --compute-ms X    compute work per frame (default 2.0)\n"
    "  --render-ms X     render work per frame (default 3.0)\n"
    "  --present-ms X    present work per frame (default 0.3)\n"
    "  --jitter-ms X     +/- uniform jitter on each stage (default 0.4)\n"
    "  --spike-every N   every Nth frame's compute takes 4x (default 97, 0 = never)\n"
    "  --busy            spin instead of sleeping (burns CPU, steadier timing)\n"
    "  --seed N          random seed (default 1)\n"
    "  --out DIR         output folder (default trace-out)\n"
    "  --help            this text\n"
    "  Outputs: DIR/trace.json (ui.perfetto.dev or chrome://tracing), DIR/frames.csv,\n"
    "  DIR/stats.json, DIR/report.html (any browser, offline), DIR/trace-table.bin.\n";

struct Options {
  std::uint64_t frames = 600;
  double rate_hz = 120.0;
  double compute_ms = 2.0;
  double render_ms = 3.0;
  double present_ms = 0.3;
  double jitter_ms = 0.4;
  std::uint64_t spike_every = 97;
  bool busy = false;
  std::uint64_t seed = 1;
  std::string out = "trace-out";
};

template <class T>
bool parse_number(std::string_view s, T& out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Returns 0 to run, 1 for --help, 2 for bad flags.
int parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") return 1;
    if (a == "--busy") {
      o.busy = true;
      continue;
    }
    static constexpr std::string_view kValued[] = {"--frames",      "--rate",       "--compute-ms",
                                                   "--render-ms",   "--present-ms", "--jitter-ms",
                                                   "--spike-every", "--seed",       "--out"};
    if (std::find(std::begin(kValued), std::end(kValued), a) == std::end(kValued)) {
      std::fprintf(stderr, "triptych-trace-demo: unknown flag '%s'\n", argv[i]);
      return 2;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "triptych-trace-demo: '%s' needs a value\n", argv[i]);
      return 2;
    }
    const std::string_view v = argv[++i];
    bool ok = true;
    if (a == "--frames")
      ok = parse_number(v, o.frames) && o.frames > 0 && o.frames <= (1u << 24);
    else if (a == "--rate")
      ok = parse_number(v, o.rate_hz) && o.rate_hz > 0 && o.rate_hz <= 10000;
    else if (a == "--compute-ms")
      ok = parse_number(v, o.compute_ms) && o.compute_ms >= 0 && o.compute_ms < 1000;
    else if (a == "--render-ms")
      ok = parse_number(v, o.render_ms) && o.render_ms >= 0 && o.render_ms < 1000;
    else if (a == "--present-ms")
      ok = parse_number(v, o.present_ms) && o.present_ms >= 0 && o.present_ms < 1000;
    else if (a == "--jitter-ms")
      ok = parse_number(v, o.jitter_ms) && o.jitter_ms >= 0 && o.jitter_ms < 1000;
    else if (a == "--spike-every")
      ok = parse_number(v, o.spike_every);
    else if (a == "--seed")
      ok = parse_number(v, o.seed);
    else if (a == "--out")
      o.out = v;
    else {
      std::fprintf(stderr, "triptych-trace-demo: unknown flag '%s'\n", argv[i - 1]);
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "triptych-trace-demo: bad value '%s' for %s\n", argv[i], argv[i - 1]);
      return 2;
    }
  }
  return 0;
}

void sleep_until_ns(std::uint64_t t) {
  timespec ts{static_cast<time_t>(t / 1'000'000'000u), static_cast<long>(t % 1'000'000'000u)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// Simulated work: sleep (a stage waiting on I/O or the GPU) or spin (CPU work).
void work(double ms, bool busy) {
  if (ms <= 0) return;
  const std::uint64_t end = now_ns() + static_cast<std::uint64_t>(ms * 1e6);
  if (!busy) {
    sleep_until_ns(end);
    return;
  }
  while (now_ns() < end) cpu_relax();
}

class Jitter {
 public:
  Jitter(std::uint64_t seed, double jitter_ms) : rng_(seed), dist_(-jitter_ms, jitter_ms) {}
  double operator()(double ms) { return std::max(0.0, ms + dist_(rng_)); }

 private:
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> dist_;
};

// Mailbox words hold frame id + 1; 0 = empty, kStop = shut down.
constexpr std::uint32_t kStop = ~std::uint32_t{0};
constexpr auto kWaitSlice = 100ms;  // re-check liveness this often (CONVENTIONS.md #10)

// Blocks until ww.value != 0 and returns it (the mailbox is full).
std::uint32_t take(WaitWord& ww) {
  for (;;) {
    // SYNC(mailbox): acquire pairs with the sender's store_and_wake.
    const std::uint32_t v = ww.value.load(std::memory_order_acquire);
    if (v != 0) return v;
    (void)timed_wait(ww, 0, kWaitSlice, {}, WaitKind::kIdle);  // waiting for work
  }
}

// Blocks until ww is empty, then puts v in it and wakes the receiver.
void put(WaitWord& ww, std::uint32_t v) {
  for (;;) {
    // SYNC(mailbox): acquire pairs with the receiver's store_and_wake(0).
    const std::uint32_t cur = ww.value.load(std::memory_order_acquire);
    if (cur == 0) break;
    (void)timed_wait(ww, cur, kWaitSlice);  // back-pressure: the peer still holds the last frame
  }
  store_and_wake(ww, v, 1);  // SYNC(mailbox): publishes the frame's stamps so far.
}

struct Pipeline {
  FrameTraceTable table;
  Options opt;
  WaitWord compute_in;
  WaitWord render_in;
};

void compute_thread(Pipeline& p) {
  register_thread("compute");
  ThreadProbe probe;
  Jitter jitter(p.opt.seed * 3 + 1, p.opt.jitter_ms);
  for (;;) {
    const std::uint32_t v = take(p.compute_in);
    if (v == kStop) {
      put(p.render_in, kStop);
      break;
    }
    const std::uint64_t frame = v - 1;
    TRIPTYCH_STAMP(p.table, frame, Stage::kComputeStart);
    {
      TRIPTYCH_SPAN("kernel");
      const bool spike =
          p.opt.spike_every != 0 && frame % p.opt.spike_every == p.opt.spike_every - 1;
      work(jitter(p.opt.compute_ms) * (spike ? 4.0 : 1.0), p.opt.busy);
    }
    TRIPTYCH_STAMP(p.table, frame, Stage::kComputeEnd);
    {
      TRIPTYCH_SPAN("hand to render");
      put(p.render_in, v);
    }
    store_and_wake(p.compute_in, 0, 1);  // SYNC(mailbox): the loop may post the next frame
  }
  (void)probe.finish();
}

void render_thread(Pipeline& p) {
  register_thread("render + present");
  ThreadProbe probe;
  Jitter jitter(p.opt.seed * 7 + 5, p.opt.jitter_ms);
  for (;;) {
    const std::uint32_t v = take(p.render_in);
    if (v == kStop) break;
    const std::uint64_t frame = v - 1;
    TRIPTYCH_STAMP(p.table, frame, Stage::kRenderStart);
    {
      TRIPTYCH_SPAN("layout pass");
      work(jitter(p.opt.render_ms * 0.4), p.opt.busy);
    }
    {
      TRIPTYCH_SPAN("GPU submit");
      work(jitter(p.opt.render_ms * 0.6), p.opt.busy);
    }
    TRIPTYCH_STAMP(p.table, frame, Stage::kRenderEnd);
    {
      TRIPTYCH_SPAN("present");
      work(jitter(p.opt.present_ms), p.opt.busy);
    }
    TRIPTYCH_STAMP(p.table, frame, Stage::kPresented);
    store_and_wake(p.render_in, 0, 1);  // SYNC(mailbox): compute may hand over the next frame
  }
  (void)probe.finish();
}

struct FreeDeleter {
  void operator()(void* q) const noexcept { std::free(q); }
};

std::string fmt_ms(double ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", ns / 1e6);
  return buf;
}

// The frame loop: issues opt.frames frames at opt.rate_hz into the compute
// mailbox (skipping a frame compute is still busy with, as a mailbox would).
void issue_frames(Pipeline& p, const Options& opt) {
  register_thread("frame loop");
  ThreadProbe probe;
  const auto period = static_cast<std::uint64_t>(1e9 / opt.rate_hz);
  const std::uint64_t start = now_ns() + 5'000'000;  // let the stage threads settle
  for (std::uint64_t i = 0; i < opt.frames; ++i) {
    sleep_until_ns(start + i * period);
    TRIPTYCH_SPAN("issue frame");
    const std::uint64_t frame = p.table.begin_frame(now_ns());
    // SYNC(mailbox): acquire pairs with compute's store_and_wake(0).
    if (p.compute_in.value.load(std::memory_order_acquire) == 0) {
      store_and_wake(p.compute_in, static_cast<std::uint32_t>(frame + 1), 1);
    } else {
      (void)p.table.mark_dropped(frame);
    }
  }
  put(p.compute_in, kStop);
  (void)probe.finish();
}

// The report's four files and the raw trace table in opt.out.
bool write_outputs(const TraceReport& report, const Options& opt, const void* table_bytes, std::size_t bytes) {
  std::error_code ec;
  std::filesystem::create_directories(opt.out, ec);
  if (ec) {
    std::fprintf(stderr, "triptych-trace-demo: cannot create %s: %s\n", opt.out.c_str(), ec.message().c_str());
    return false;
  }
  const std::string base = opt.out + "/";
  std::ofstream raw(base + "trace-table.bin", std::ios::binary | std::ios::trunc);
  raw.write(static_cast<const char*>(table_bytes), static_cast<std::streamsize>(bytes));
  if (!raw) {
    std::fprintf(stderr, "triptych-trace-demo: cannot write %strace-table.bin\n", base.c_str());
    return false;
  }
  for (const auto& r : {write_chrome_trace_file(report, base + "trace.json"),
                        write_frames_csv_file(report, base + "frames.csv"),
                        write_stats_json_file(report, base + "stats.json"),
                        write_html_report_file(report, base + "report.html")}) {
    if (!r) {
      std::fprintf(stderr, "triptych-trace-demo: %s\n", r.error().what().c_str());
      return false;
    }
  }
  return true;
}

// The console summary: frames, latency, interval, misses, per-thread waits.
void print_summary(const TraceReport& report) {
  const FrameStats& s = report.stats;
  const DurationStats& lat = s[Segment::kLatency];
  const DurationStats& itv = s[Segment::kInterval];
  std::printf("frames: %llu complete, %llu dropped, %llu invalid\n", static_cast<unsigned long long>(s.complete),
              static_cast<unsigned long long>(s.dropped), static_cast<unsigned long long>(s.invalid));
  std::printf("latency ms: mean %s stddev %s p50 %s p99 %s max %s\n", fmt_ms(lat.mean_ns).c_str(),
              fmt_ms(lat.stddev_ns).c_str(), fmt_ms(static_cast<double>(lat.p50_ns)).c_str(),
              fmt_ms(static_cast<double>(lat.p99_ns)).c_str(), fmt_ms(static_cast<double>(lat.max_ns)).c_str());
  std::printf("interval ms: mean %s stddev %s p99 %s\n", fmt_ms(itv.mean_ns).c_str(), fmt_ms(itv.stddev_ns).c_str(),
              fmt_ms(static_cast<double>(itv.p99_ns)).c_str());
  std::printf("deadline misses (latency > 1/rate): 60 Hz %llu, 120 Hz %llu, 144 Hz %llu\n",
              static_cast<unsigned long long>(s.deadline_misses[0]),
              static_cast<unsigned long long>(s.deadline_misses[1]),
              static_cast<unsigned long long>(s.deadline_misses[2]));
  for (const auto& t : report.threads) {
    if (!t.has_counters) continue;
    std::printf(
        "thread %-18s contention wait %6.2f%%%s, idle wait %6.2f%%, %llu voluntary / %llu "
        "involuntary switches\n",
        t.name.c_str(), 100.0 * t.counters.futex_wait_share(),
        t.counters.futex_wait_share() > kFutexWaitShareFlag ? " (over 5%)" : "",
        t.counters.wall_ns == 0
            ? 0.0
            : 100.0 * static_cast<double>(t.counters.idle_wait_ns) / static_cast<double>(t.counters.wall_ns),
        static_cast<unsigned long long>(t.counters.voluntary_switches),
        static_cast<unsigned long long>(t.counters.involuntary_switches));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  const int pr = parse(argc, argv, opt);
  if (pr == 1) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (pr == 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }

  std::uint32_t capacity = 2;
  while (capacity < opt.frames) capacity <<= 1;
  const std::size_t bytes = FrameTraceTable::required_bytes(capacity);
  std::unique_ptr<void, FreeDeleter> mem(std::aligned_alloc(kCacheLine, bytes));
  if (!mem) {
    std::fprintf(stderr, "triptych-trace-demo: out of memory\n");
    return 1;
  }
  auto table = FrameTraceTable::create(mem.get(), bytes, capacity);
  if (!table) {
    std::fprintf(stderr, "triptych-trace-demo: %s\n", table.error().what().c_str());
    return 1;
  }

  ProcessProbe process;
  auto pipeline = std::make_unique<Pipeline>(table.value(), opt);
  Pipeline& p = *pipeline;
  std::thread compute([&] { compute_thread(p); });
  std::thread render([&] { render_thread(p); });
  issue_frames(p, opt);
  compute.join();
  render.join();

  TraceReport report = collect_report(p.table);
  report.title = "triptych trace demo";
  report.threads = collect_threads();
  report.process = process.finish();
  report.has_process = true;
  if (const std::string note = hw_counters_note(); !note.empty()) report.notes.push_back(note);
  report.config = {{"frames", std::to_string(opt.frames)},
                   {"rate_hz", std::to_string(opt.rate_hz)},
                   {"compute_ms", std::to_string(opt.compute_ms)},
                   {"render_ms", std::to_string(opt.render_ms)},
                   {"present_ms", std::to_string(opt.present_ms)},
                   {"jitter_ms", std::to_string(opt.jitter_ms)},
                   {"spike_every", std::to_string(opt.spike_every)},
                   {"work", opt.busy ? "spin" : "sleep"}};
  if (!write_outputs(report, opt, mem.get(), bytes)) return 1;
  print_summary(report);
  std::printf("wrote %s/trace.json frames.csv stats.json report.html trace-table.bin\n", opt.out.c_str());
  return 0;
}
