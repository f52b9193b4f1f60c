// Turning C++ failures into JS errors: ArgumentError -> TypeError/RangeError, BackendError -> Error,
// each with a `code` property.
#pragma once
#include <napi.h>

#include <exception>
#include <string>

#include "latent_struct/common.h"

namespace ls {
namespace binding {

[[noreturn]] inline void type_error(const std::string& code, const std::string& message) {
  throw ArgumentError(true, code, message);
}
[[noreturn]] inline void range_error(const std::string& code, const std::string& message) {
  throw ArgumentError(false, code, message);
}

/// The JS error for an exception caught from our code (anything else becomes ERR_INTERNAL).
Napi::Error to_js_error(Napi::Env env, std::exception_ptr error);

/// Runs body, converting any C++ exception into a thrown JS error; returns undefined after a throw.
template <typename Body>
Napi::Value guarded(Napi::Env env, Body&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw to_js_error(env, std::current_exception());
  }
}

}  // namespace binding
}  // namespace ls
