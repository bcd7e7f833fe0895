// SPDX-License-Identifier: Apache-2.0
// Argument helpers shared by both addons (declarations and contracts in
// args.hpp): one TypedArray reader, one integer check, one reader per
// optional-field type. Non-blocking; call from the JS thread that owns `env`.
// Design: docs/node.md.
#include "args.hpp"

#include <cctype>

namespace triptych::node {
namespace {

std::string errc_code(Errc e) {
  std::string s = "ERR_TRIPTYCH_";
  for (char c : errc_name(e)) s += c == ' ' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// `d` when it is an integer in [lo, hi]; nullopt for NaN, fractions and
// anything out of range.
std::optional<std::uint64_t> exact_uint(double d, double lo, double hi) {
  if (!(d >= lo && d <= hi)) return std::nullopt;
  const auto x = static_cast<std::uint64_t>(d);
  if (static_cast<double>(x) != d) return std::nullopt;
  return x;
}

std::optional<double> opt_number(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

}  // namespace

[[noreturn]] void throw_error(const Napi::Env& env, const Error& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, errc_code(e.code)));
  throw err;
}

TypedBytes typed_array_bytes(const Napi::Env& env, const Napi::Value& v, const std::string& what,
                             const char* expected) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(env, what + " must be " + expected);
  napi_typedarray_type type{};
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer{};
  size_t offset = 0;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset) != napi_ok) {
    throw Napi::TypeError::New(env, "cannot read " + what);
  }
  return {{static_cast<std::byte*>(data), v.As<Napi::TypedArray>().ByteLength()}, offset};
}

std::optional<std::uint64_t> bigint_u64(const Napi::Value& v) {
  if (!v.IsBigInt()) return std::nullopt;
  bool lossless = false;
  const std::uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) return std::nullopt;
  return x;
}

std::uint64_t to_u64(const Napi::Env& env, const Napi::Value& v, const char* what) {
  std::optional<std::uint64_t> x;
  if (v.IsBigInt()) x = bigint_u64(v);
  else if (v.IsNumber()) x = exact_uint(v.As<Napi::Number>().DoubleValue(), 0, 9007199254740991.0);
  if (!x) throw Napi::RangeError::New(env, std::string(what) + " must be a non-negative integer");
  return *x;
}

std::string string_or(const Napi::Value& v, const std::string& fallback) {
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : fallback;
}

double number_or(const Napi::Value& v, double fallback) {
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}

Napi::Object get_object(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (v.IsUndefined()) return Napi::Object::New(env);
  if (!v.IsObject()) throw Napi::TypeError::New(env, std::string(what) + " must be an object");
  return v.As<Napi::Object>();
}

std::uint64_t opt_uint(const Napi::Object& o, const char* key, std::uint64_t fallback, std::uint64_t lo,
                       std::uint64_t hi) {
  const auto d = opt_number(o, key);
  if (!d) return fallback;
  const auto x = exact_uint(*d, static_cast<double>(lo), static_cast<double>(hi));
  if (!x) {
    throw Napi::RangeError::New(o.Env(), std::string(key) + " must be an integer in [" + std::to_string(lo) +
                                             ", " + std::to_string(hi) + "], got " + std::to_string(*d));
  }
  return *x;
}

std::optional<std::string> opt_string(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace triptych::node
