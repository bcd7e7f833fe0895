// SPDX-License-Identifier: Apache-2.0
// A small strict JSON parser for the exporter tests: objects, arrays,
// strings (with \u escapes), numbers, true/false/null. Throws on bad input so
// a malformed export fails its test. Test-only; single-threaded.
#pragma once

#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace triptych::test {

struct Json {
  using Object = std::map<std::string, Json>;
  using Array = std::vector<Json>;
  std::variant<std::nullptr_t, bool, double, std::string, std::shared_ptr<Array>,
               std::shared_ptr<Object>>
      v;

  bool is_null() const { return v.index() == 0; }
  double num() const { return std::get<2>(v); }
  const std::string& str() const { return std::get<3>(v); }
  const Array& arr() const { return *std::get<4>(v); }
  const Object& obj() const { return *std::get<5>(v); }
  const Json& operator[](const std::string& k) const { return obj().at(k); }
  bool has(const std::string& k) const { return v.index() == 5 && obj().count(k) != 0; }
};

class JsonParser {
 public:
  explicit JsonParser(std::string_view s) : s_(s) {}
  Json parse() {
    Json j = value();
    ws();
    if (i_ != s_.size()) fail("trailing bytes");
    return j;
  }

 private:
  [[noreturn]] void fail(const char* what) {
    throw std::runtime_error(std::string(what) + " at " + std::to_string(i_));
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
      ++i_;
  }
  char peek() {
    ws();
    if (i_ >= s_.size()) fail("unexpected end");
    return s_[i_];
  }
  void expect(char c) {
    if (peek() != c) fail("unexpected character");
    ++i_;
  }
  bool literal(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  Json value() {
    const char c = peek();
    Json j;
    if (c == '{') {
      ++i_;
      auto o = std::make_shared<Json::Object>();
      if (peek() == '}') {
        ++i_;
      } else {
        for (;;) {
          if (peek() != '"') fail("object key must be a string");
          std::string k = string();
          expect(':');
          (*o)[k] = value();
          if (peek() == ',') {
            ++i_;
            continue;
          }
          expect('}');
          break;
        }
      }
      j.v = o;
    } else if (c == '[') {
      ++i_;
      auto a = std::make_shared<Json::Array>();
      if (peek() == ']') {
        ++i_;
      } else {
        for (;;) {
          a->push_back(value());
          if (peek() == ',') {
            ++i_;
            continue;
          }
          expect(']');
          break;
        }
      }
      j.v = a;
    } else if (c == '"') {
      j.v = string();
    } else if (literal("true")) {
      j.v = true;
    } else if (literal("false")) {
      j.v = false;
    } else if (literal("null")) {
      j.v = nullptr;
    } else {
      const std::size_t start = i_;
      if (i_ < s_.size() && s_[i_] == '-') ++i_;
      if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) fail("bad number");
      while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' ||
                                s_[i_] == 'e' || s_[i_] == 'E' || s_[i_] == '+' || s_[i_] == '-'))
        ++i_;
      j.v = std::strtod(std::string(s_.substr(start, i_ - start)).c_str(), nullptr);
    }
    return j;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c == '\\') {
        if (i_ >= s_.size()) fail("bad escape");
        c = s_[i_++];
        switch (c) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case 'r':
            out += '\r';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case '/':
          case '\\':
          case '"':
            out += c;
            break;
          case 'u': {
            if (i_ + 4 > s_.size()) fail("bad \\u");
            const unsigned long cp =
                std::strtoul(std::string(s_.substr(i_, 4)).c_str(), nullptr, 16);
            i_ += 4;
            if (cp > 0x7f) fail("test parser only decodes ASCII \\u escapes");
            out += static_cast<char>(cp);
            break;
          }
          default:
            fail("bad escape");
        }
      } else {
        out += c;
      }
    }
    expect('"');
    return out;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

inline Json parse_json(std::string_view s) {
  return JsonParser(s).parse();
}

}  // namespace triptych::test
