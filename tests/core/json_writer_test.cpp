// SPDX-License-Identifier: Apache-2.0
// The JSON writer (include/triptych/core/json_writer.hpp): separators in
// nested objects and arrays, string escapes (HTML-safe), numbers (fixed,
// non-finite as null), vectors as arrays and nested values. Exact output.
#include "triptych/core/json_writer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace triptych {
namespace {

template <class Write>
std::string written(Write&& write) {
  std::ostringstream os;
  JsonWriter w(os);
  write(w);
  return os.str();
}

TEST(Core, JsonWriterSeparatesMembersAndElements) {
  const std::string s = written([](JsonWriter& w) {
    w.begin_object();
    w.field("a", std::uint64_t{1});
    w.key("b");
    w.begin_array();
    w.value(true);
    w.null();
    w.begin_object();
    w.end_object();
    w.begin_array();
    w.end_array();
    w.end_array();
    w.field("c", std::int64_t{-2});
    w.end_object();
  });
  EXPECT_EQ(s, R"({"a":1,"b":[true,null,{},[]],"c":-2})");
}

TEST(Core, JsonWriterEscapesQuotesControlsAndHtml) {
  const std::string s = written([](JsonWriter& w) { w.value(std::string_view("q\"b\\n\n\t\x01</script>&")); });
  EXPECT_EQ(s, R"("q\"b\\n\n\t\u0001\u003c/script\u003e\u0026")");
}

TEST(Core, JsonWriterWritesNonFiniteAsNullAndFixedDecimals) {
  const std::string s = written([](JsonWriter& w) {
    w.begin_array();
    w.value(0.5);
    w.value(std::numeric_limits<double>::quiet_NaN());
    w.value(std::numeric_limits<double>::infinity());
    w.fixed(1.0 / 3.0, 3);
    w.fixed(-std::numeric_limits<double>::infinity(), 2);
    w.end_array();
  });
  EXPECT_EQ(s, "[0.5,null,null,0.333,null]");
}

TEST(Core, JsonWriterWritesVectorsAsArrays) {
  const std::string s = written([](JsonWriter& w) {
    w.begin_object();
    w.field("ids", std::vector<std::uint32_t>{3, 4, 5});
    w.field("none", std::vector<std::uint32_t>{});
    w.field("notes", std::vector<std::string>{"x", "y\"z"});
    w.end_object();
  });
  EXPECT_EQ(s, R"({"ids":[3,4,5],"none":[],"notes":["x","y\"z"]})");
}

TEST(Core, JsonWriterNestsAValueWrittenByAnotherWriter) {
  const std::string s = written([](JsonWriter& w) {
    w.begin_object();
    w.field("first", std::uint64_t{1});
    w.key("inner");
    w.nested([](std::ostream& os) {
      JsonWriter inner(os);
      inner.begin_array();
      inner.value("x");
      inner.end_array();
    });
    w.key("after");
    w.begin_array();
    w.nested([](std::ostream& os) { os << "7"; });
    w.nested([](std::ostream& os) { os << "8"; });
    w.end_array();
    w.end_object();
  });
  EXPECT_EQ(s, R"({"first":1,"inner":["x"],"after":[7,8]})");
}

}  // namespace
}  // namespace triptych
