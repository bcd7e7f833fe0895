// SPDX-License-Identifier: Apache-2.0
// LogLinearHistogram against known distributions: exact where the histogram
// is exact (count, min, max, mean, stddev, values below 256), within
// kMaxRelativeError of the true order statistic otherwise.
#include "triptych/report/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

namespace triptych::report {
namespace {

using H = LogLinearHistogram;

// The true p-th percentile with the histogram's rank rule: the ceil(p% n)-th smallest.
std::uint64_t exact_percentile(std::vector<std::uint64_t> v, double p) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return v[rank - 1];
}

void expect_within_bound(const H& h, const std::vector<std::uint64_t>& v) {
  for (const double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
    const auto truth = static_cast<double>(exact_percentile(v, p));
    const auto got = static_cast<double>(h.percentile(p));
    EXPECT_LE(std::abs(got - truth), truth * H::kMaxRelativeError)
        << "p" << p << " truth " << truth << " got " << got;
  }
}

TEST(Histogram, LogLinear_BucketsTileTheRangeWithoutGaps) {
  for (std::size_t b = 0; b + 1 < H::kBucketCount; ++b) {
    ASSERT_EQ(H::bucket_lower(b) + H::bucket_width(b), H::bucket_lower(b + 1)) << b;
    ASSERT_EQ(H::bucket_of(H::bucket_lower(b)), b);
    ASSERT_EQ(H::bucket_of(H::bucket_lower(b) + H::bucket_width(b) - 1), b);
  }
  EXPECT_EQ(H::bucket_of(0), 0u);
  EXPECT_EQ(H::bucket_of(~std::uint64_t{0}), H::kBucketCount - 1);
}

TEST(Histogram, LogLinear_BucketWidthIsAtMostOne128thOfItsValues) {
  for (std::size_t b = H::kExactBelow; b < H::kBucketCount; ++b)
    ASSERT_LE(H::bucket_width(b) * H::kSubBuckets, H::bucket_lower(b)) << b;
}

TEST(Histogram, LogLinear_EmptyReportsZeros) {
  const auto h = std::make_unique<H>();
  EXPECT_EQ(h->count(), 0u);
  EXPECT_EQ(h->min(), 0u);
  EXPECT_EQ(h->max(), 0u);
  EXPECT_EQ(h->percentile(50), 0u);
  EXPECT_EQ(h->stddev(), 0.0);
}

TEST(Histogram, LogLinear_SmallValuesAreExact) {
  auto h = std::make_unique<H>();
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 0; i < H::kExactBelow; ++i) {
    h->record(i);
    v.push_back(i);
  }
  for (const double p : {0.5, 25.0, 50.0, 75.0, 99.0, 100.0})
    EXPECT_EQ(h->percentile(p), exact_percentile(v, p)) << p;
  EXPECT_EQ(h->percentile(50), 127u);
  EXPECT_EQ(h->min(), 0u);
  EXPECT_EQ(h->max(), 255u);
}

TEST(Histogram, LogLinear_ConstantDistributionIsExact) {
  auto h = std::make_unique<H>();
  for (int i = 0; i < 1000; ++i) h->record(16'666'667);
  EXPECT_EQ(h->percentile(50), 16'666'667u);  // clamped to the exact min == max
  EXPECT_EQ(h->percentile(99.9), 16'666'667u);
  EXPECT_DOUBLE_EQ(h->mean(), 16'666'667.0);
  EXPECT_DOUBLE_EQ(h->stddev(), 0.0);
}

TEST(Histogram, LogLinear_UniformMeanAndStddevAreExact) {
  auto h = std::make_unique<H>();
  std::vector<std::uint64_t> v;
  constexpr std::uint64_t kN = 100'000;
  for (std::uint64_t i = 1; i <= kN; ++i) {
    h->record(i * 1000);  // 1 µs .. 100 ms
    v.push_back(i * 1000);
  }
  EXPECT_EQ(h->count(), kN);
  EXPECT_NEAR(h->mean(), 1000.0 * (kN + 1) / 2.0, 1e-6 * h->mean());
  // Population stddev of 1000 * {1..n}: 1000 * sqrt((n^2 - 1) / 12).
  EXPECT_NEAR(h->stddev(), 1000.0 * std::sqrt((static_cast<double>(kN) * kN - 1) / 12.0),
              1e-6 * h->stddev());
  EXPECT_EQ(h->min(), 1000u);
  EXPECT_EQ(h->max(), kN * 1000);
  EXPECT_EQ(h->percentile(100), kN * 1000);
  expect_within_bound(*h, v);
}

TEST(Histogram, LogLinear_LogNormalPercentilesWithinDocumentedError) {
  auto h = std::make_unique<H>();
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(std::log(5e6), 0.6);  // ~5 ms frames with a long tail
  std::vector<std::uint64_t> v;
  for (int i = 0; i < 200'000; ++i) {
    const auto x = static_cast<std::uint64_t>(dist(rng));
    h->record(x);
    v.push_back(x);
  }
  expect_within_bound(*h, v);
  EXPECT_EQ(h->max(), *std::max_element(v.begin(), v.end()));
}

TEST(Histogram, LogLinear_HugeValuesStayInRange) {
  auto h = std::make_unique<H>();
  h->record(~std::uint64_t{0});
  h->record(1);
  EXPECT_EQ(h->max(), ~std::uint64_t{0});
  EXPECT_EQ(h->percentile(100), ~std::uint64_t{0});
  EXPECT_EQ(h->percentile(50), 1u);
}

}  // namespace
}  // namespace triptych::report
