// SPDX-License-Identifier: Apache-2.0
// Exporters: the Chrome trace, stats JSON and the HTML report's data parse
// back and match the recorded frames; the CSV has one row per frame; invalid
// records never reach a trace event.
#include "triptych/report/export.hpp"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "report/json_parse.hpp"

namespace triptych::report {
namespace {

using namespace triptych::trace;  // the records the report is built from

using test::Json;
using test::parse_json;

constexpr std::uint64_t kMs = 1'000'000;
constexpr SourceLocation kSpanLoc{"layout <pass> & \"more\"", "render_fn", "render.cpp", 42};

FrameSnapshot complete_frame(std::uint64_t id) {
  const std::uint64_t t = 5'000 * kMs + id * 8 * kMs;
  FrameSnapshot s;
  s.frame = id;
  s.stamps = {t, t + 100'000, t + 2 * kMs, t + 2'100'000, t + 5 * kMs, t + 5'500'000};
  return s;
}

TraceReport sample_report() {
  std::vector<FrameSnapshot> frames;
  for (std::uint64_t i = 0; i < 10; ++i) frames.push_back(complete_frame(i));
  FrameSnapshot dropped = complete_frame(10);
  dropped.stamps[2] = dropped.stamps[3] = dropped.stamps[4] = dropped.stamps[5] = 0;
  dropped.flags = kFlagDropped;
  frames.push_back(dropped);
  FrameSnapshot failed = complete_frame(12);
  failed.stamps[3] = failed.stamps[4] = failed.stamps[5] = 0;
  failed.flags = kFlagFailed;
  frames.push_back(failed);
  FrameSnapshot bad = complete_frame(11);
  std::swap(bad.stamps[1], bad.stamps[4]);  // out of order
  frames.push_back(bad);
  TraceReport r = make_report(std::move(frames), AnalyzerOptions{13, 1'000'000 * kMs});
  r.failures.push_back(FrameFailure{12, "kernel k trapped at frame 13, chunk [0, 8): RuntimeError: unreachable"});
  ThreadSpans z;
  z.name = "render <0>";
  z.tid = 4242;
  z.events.push_back(SpanEvent{&kSpanLoc, 5'000 * kMs + 10, 5'000 * kMs + 2010, 0, 0});
  z.has_counters = true;
  z.counters.wall_ns = 1000;
  z.counters.futex_wait_ns = 60;
  r.threads.push_back(z);
  r.notes.push_back("a note");
  r.config.emplace_back("rate_hz", "120");
  return r;
}

TEST(Export, ChromeTrace_ParsesBackAndMatchesTheFrames) {
  const TraceReport r = sample_report();
  std::ostringstream os;
  write_chrome_trace(r, os);
  const Json j = parse_json(os.str());
  std::map<std::int64_t, int> slices_per_track;
  std::map<std::string, int> flow_phases;
  std::map<std::int64_t, std::string> thread_names;
  int counters = 0;
  int instants = 0;
  int spans = 0;
  for (const Json& e : j["traceEvents"].arr()) {
    const std::string& ph = e["ph"].str();
    if (ph == "X" && e["cat"].str() == "frame") {
      ++slices_per_track[static_cast<std::int64_t>(e["tid"].num())];
      EXPECT_NE(e["args"]["frame"].num(), 11.0) << "an invalid frame reached the trace";
      EXPECT_GE(e["dur"].num(), 0.0);
    } else if (ph == "X") {
      ++spans;
      EXPECT_EQ(e["name"].str(), kSpanLoc.name);
      EXPECT_DOUBLE_EQ(e["dur"].num(), 2.0);  // µs
      EXPECT_EQ(e["args"]["source"].str(), "render.cpp:42");
    } else if (ph == "s" || ph == "t" || ph == "f") {
      ++flow_phases[ph];
      EXPECT_EQ(e["bp"].str(), "e");
    } else if (ph == "C") {
      ++counters;
      EXPECT_NEAR(e["args"]["latency"].num(), 5.5, 1e-9);
    } else if (ph == "i") {
      ++instants;
      EXPECT_TRUE(e["name"].str() == "dropped frame 10" || e["name"].str() == "failed frame 12") << e["name"].str();
    } else if (ph == "M" && e["name"].str() == "thread_name") {
      thread_names[static_cast<std::int64_t>(e["tid"].num())] = e["args"]["name"].str();
    }
  }
  // Tracks 1..5: queue wait has the dropped and the failed frame's slices
  // too, compute the failed frame's (it computed, then failed).
  EXPECT_EQ(slices_per_track[1], 12);
  EXPECT_EQ(slices_per_track[2], 11);
  for (std::int64_t tid = 3; tid <= 5; ++tid) EXPECT_EQ(slices_per_track[tid], 10) << tid;
  EXPECT_EQ(flow_phases["s"], 11);
  EXPECT_EQ(flow_phases["t"], 30);
  EXPECT_EQ(flow_phases["f"], 11);
  EXPECT_EQ(counters, 10);
  EXPECT_EQ(instants, 2);  // the dropped and the failed frame
  EXPECT_EQ(spans, 1);
  EXPECT_EQ(thread_names[2], "2 compute");
  EXPECT_EQ(thread_names[4242], "render <0>");
  EXPECT_EQ(j["otherData"]["frames"].num(), 13.0);
}

TEST(Export, Csv_OneRowPerFrameWithStatus) {
  const TraceReport r = sample_report();
  std::ostringstream os;
  write_frames_csv(r, os);
  std::istringstream in(os.str());
  std::string line;
  std::vector<std::vector<std::string>> rows;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream ls(line);
    while (std::getline(ls, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    rows.push_back(cells);
  }
  ASSERT_EQ(rows.size(), 1u + 13u);
  EXPECT_EQ(rows[0][0], "frame");
  EXPECT_EQ(rows[0][8], "presented_ns");
  EXPECT_EQ(rows[0][14], "latency_ns");
  for (const auto& row : rows) EXPECT_EQ(row.size(), 16u);
  EXPECT_EQ(rows[1][1], "complete");
  EXPECT_EQ(rows[1][14], "5500000");
  EXPECT_EQ(rows[1][15], "");         // no interval for the first frame
  EXPECT_EQ(rows[2][15], "8000000");  // 8 ms apart
  EXPECT_EQ(rows[11][1], "dropped");
  EXPECT_EQ(rows[12][1], "invalid");
  EXPECT_EQ(rows[12][14], "");
  EXPECT_EQ(rows[13][1], "failed");  // its own status, never "dropped"
  EXPECT_EQ(rows[13][14], "");
}

TEST(Export, StatsJson_MatchesTheAnalysis) {
  const TraceReport r = sample_report();
  std::ostringstream os;
  write_stats_json(r, os);
  const Json j = parse_json(os.str());
  EXPECT_EQ(j["frames"]["complete"].num(), 10.0);
  EXPECT_EQ(j["frames"]["dropped"].num(), 1.0);
  EXPECT_EQ(j["frames"]["failed"].num(), 1.0);
  EXPECT_EQ(j["frames"]["issued"].num(), 13.0);
  EXPECT_EQ(j["frames"]["complete"].num() + j["frames"]["dropped"].num() + j["frames"]["failed"].num() +
                j["frames"]["in_flight"].num() + j["frames"]["invalid"].num(),
            j["frames"]["issued"].num());
  EXPECT_EQ(j["failures"]["kept"].arr().size(), 1u);
  EXPECT_EQ(j["failures"]["kept"].arr()[0]["frame"].num(), 12.0);
  EXPECT_NE(j["failures"]["kept"].arr()[0]["cause"].str().find("RuntimeError"), std::string::npos);
  EXPECT_EQ(j["failures"]["not_kept"].num(), 0.0);
  EXPECT_EQ(j["frames"]["invalid_out_of_order"].num(), 1.0);
  EXPECT_EQ(j["segments"]["latency"]["p50_ns"].num(), 5'500'000.0);
  EXPECT_EQ(j["segments"]["compute"]["max_ns"].num(), 1'900'000.0);
  EXPECT_EQ(j["segments"]["interval"]["count"].num(), 9.0);
  EXPECT_EQ(j["deadline_misses"].arr().size(), 3u);
  EXPECT_EQ(j["deadline_misses"].arr()[0]["hz"].num(), 60.0);
  EXPECT_EQ(j["threads"].arr()[0]["name"].str(), "render <0>");
  EXPECT_TRUE(std::get<bool>(j["threads"].arr()[0]["counters"]["contention_flag"].v));  // 6% > 5%
  EXPECT_EQ(j["notes"].arr()[0].str(), "a note");
  EXPECT_EQ(j["config"]["rate_hz"].str(), "120");
  EXPECT_EQ(os.str().find('<'), std::string::npos) << "'<' must be escaped for inlining in HTML";
}

// A core plan move: a row of stats.json's core_plan and an instant trace
// event with its reason and figures, like a governor decision.
TEST(Export, CorePlanMove_InStatsJsonAndTheTrace) {
  TraceReport r = sample_report();
  CoreMoveRow m;
  m.at_ns = 5'040 * kMs;
  m.frame = 5;
  m.cpu = 3;
  m.from = "render";
  m.to = "compute";
  m.reason = "compute is the slower stage";
  m.compute_ms = 12.5;
  m.render_ms = 3.25;
  m.predicted_ms = 10.0;
  m.compute_cpus = 3;
  m.render_cpus = 1;
  r.core_moves.push_back(m);

  std::ostringstream stats;
  write_stats_json(r, stats);
  const Json j = parse_json(stats.str());
  ASSERT_EQ(j["core_plan"].arr().size(), 1u);
  const Json& row = j["core_plan"].arr()[0];
  EXPECT_EQ(row["cpu"].num(), 3.0);
  EXPECT_EQ(row["from"].str(), "render");
  EXPECT_EQ(row["to"].str(), "compute");
  EXPECT_EQ(row["reason"].str(), "compute is the slower stage");
  EXPECT_EQ(row["compute_ms"].num(), 12.5);
  EXPECT_EQ(row["compute_cpus"].num(), 3.0);
  EXPECT_EQ(row["at_ns"].num(), static_cast<double>(5'040 * kMs));

  std::ostringstream trace;
  write_chrome_trace(r, trace);
  const Json t = parse_json(trace.str());
  int moves = 0;
  for (const Json& e : t["traceEvents"].arr()) {
    if (!e.has("cat") || e["cat"].str() != "core_plan") continue;
    ++moves;
    EXPECT_EQ(e["ph"].str(), "i");
    EXPECT_EQ(e["name"].str(), "core plan: CPU 3 render -> compute");
    EXPECT_EQ(e["args"]["reason"].str(), "compute is the slower stage");
  }
  EXPECT_EQ(moves, 1);
}

TEST(Export, Html_InlinesUplotAndTheData) {
  if (!html_report_available())
    GTEST_SKIP() << "built without node_modules/uplot: run `make deps` and re-run cmake";
  const TraceReport r = sample_report();
  std::ostringstream os;
  ASSERT_TRUE(write_html_report(r, os).ok());
  const std::string html = os.str();
  EXPECT_NE(html.find("leeoniya/uPlot"), std::string::npos);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  const std::string open = "<script id=\"triptych-data\" type=\"application/json\">";
  const std::size_t a = html.find(open);
  ASSERT_NE(a, std::string::npos);
  const std::size_t b = html.find("</script>", a);
  ASSERT_NE(b, std::string::npos);
  const Json data = parse_json(std::string_view(html).substr(a + open.size(), b - a - open.size()));
  EXPECT_EQ(data["stats"]["frames"]["complete"].num(), 10.0);
  EXPECT_EQ(data["series"]["frame"].arr().size(), 10u);
  EXPECT_TRUE(data["series"]["interval_ms"].arr()[0].is_null());
  EXPECT_DOUBLE_EQ(data["series"]["interval_ms"].arr()[1].num(), 8.0);
  EXPECT_DOUBLE_EQ(data["series"]["latency_ms"].arr()[3].num(), 5.5);
}

TEST(Export, Files_ReportAnUnwritablePath) {
  const TraceReport r = sample_report();
  const auto res = write_frames_csv_file(r, "/nonexistent-dir/frames.csv");
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, Errc::kSystem);
  EXPECT_NE(res.error().message.find("/nonexistent-dir/frames.csv"), std::string::npos);
}

}  // namespace
}  // namespace triptych::report
