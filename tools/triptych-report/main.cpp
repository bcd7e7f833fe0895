// SPDX-License-Identifier: Apache-2.0
// triptych-report: attaches to a FrameTraceTable saved as raw bytes (the demo's
// trace-table.bin, a copy of an arena's trace zone, or a /dev/shm file) and
// writes trace.json, frames.csv, stats.json and report.html. The bytes are
// validated (attach) and every record is checked before it is used, so a
// corrupt file gives a message and exit status 1, never a crash. Exit 2: bad
// flags. Single-threaded. docs/tracing.md ("Tools").
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "triptych/report/export.hpp"

namespace {

constexpr const char* kUsage =
    "usage: triptych-report TABLE_FILE [--out DIR] [--title TEXT]\n"
    "  Reads a saved frame trace table (e.g. trace-table.bin from triptych-trace-demo)\n"
    "  and writes DIR/trace.json (open in ui.perfetto.dev), DIR/frames.csv,\n"
    "  DIR/stats.json and DIR/report.html (open in a browser; no network needed).\n"
    "  --out DIR      output folder (default: the table file's folder)\n"
    "  --title TEXT   report title\n";

struct FreeDeleter {
  void operator()(void* p) const noexcept { std::free(p); }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace triptych::trace;
  using namespace triptych::report;
  std::string table_path;
  std::string out_dir;
  std::string title = "triptych frame trace";
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if ((a == "--out" || a == "--title") && i + 1 < argc) {
      (a == "--out" ? out_dir : title) = argv[++i];
    } else if (!a.empty() && a[0] != '-' && table_path.empty()) {
      table_path = a;
    } else {
      std::fprintf(stderr, "triptych-report: bad argument '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (table_path.empty()) {
    std::fprintf(stderr, "triptych-report: no TABLE_FILE given\n%s", kUsage);
    return 2;
  }
  if (out_dir.empty()) out_dir = std::filesystem::path(table_path).parent_path().string();
  if (out_dir.empty()) out_dir = ".";

  std::ifstream in(table_path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "triptych-report: cannot open %s: %s\n", table_path.c_str(),
                 std::strerror(errno));
    return 1;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // attach() wants 64-byte aligned memory, as an arena zone is.
  const std::size_t size = bytes.size();
  std::unique_ptr<void, FreeDeleter> mem(std::aligned_alloc(64, (size + 63) / 64 * 64 + 64));
  if (!mem) {
    std::fprintf(stderr, "triptych-report: out of memory\n");
    return 1;
  }
  std::memcpy(mem.get(), bytes.data(), size);
  auto table = FrameTraceTable::attach(mem.get(), size);
  if (!table) {
    std::fprintf(stderr, "triptych-report: %s: %s\n", table_path.c_str(),
                 table.error().what().c_str());
    return 1;
  }
  TraceReport report = collect_report(table.value());
  report.title = title;
  report.config.emplace_back("table", table_path);

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  const std::string base = out_dir + "/";
  for (const auto& r : {write_chrome_trace_file(report, base + "trace.json"),
                        write_frames_csv_file(report, base + "frames.csv"),
                        write_stats_json_file(report, base + "stats.json"),
                        write_html_report_file(report, base + "report.html")}) {
    if (!r) {
      std::fprintf(stderr, "triptych-report: %s\n", r.error().what().c_str());
      return 1;
    }
  }
  const FrameStats& s = report.stats;
  std::printf(
      "%llu records: %llu complete, %llu dropped, %llu in flight, %llu invalid, %llu lost\n",
      static_cast<unsigned long long>(s.records), static_cast<unsigned long long>(s.complete),
      static_cast<unsigned long long>(s.dropped), static_cast<unsigned long long>(s.in_flight),
      static_cast<unsigned long long>(s.invalid), static_cast<unsigned long long>(s.lost));
  std::printf("wrote %strace.json, frames.csv, stats.json, report.html\n", base.c_str());
  return 0;
}
