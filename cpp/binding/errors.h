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

#if !LS_WITH_CUDA
/// Why this build has no CUDA backend, as far as the build knows (LS_CUDA_OFF_REASON from CMakeLists.txt: 1 LS_CUDA
/// was OFF, 2 LS_CUDA was ON but no nvcc was found; undefined: not a CMake build, i.e. node-gyp's binding.gyp).
inline std::string no_cuda_backend_reason() {
#if defined(LS_CUDA_OFF_REASON) && LS_CUDA_OFF_REASON == 2
  return "this build has no CUDA backend (nvcc was not found when the addon was built)";
#elif defined(LS_CUDA_OFF_REASON) && LS_CUDA_OFF_REASON == 1
  return "this build has no CUDA backend (it was built with CUDA off: LATENT_STRUCT_CUDA=0 or --cpu, no NVIDIA "
         "driver visible at install, or a failed CUDA build; LATENT_STRUCT_CUDA=1 npm install compiles it with nvcc)";
#else
  return "this build has no CUDA backend (a CPU-only build: node-gyp's binding.gyp, no nvcc at install, or "
         "LATENT_STRUCT_CUDA=0 / --cpu)";
#endif
}
#endif

/// The JS error for an exception caught from our code (anything else becomes ERR_INTERNAL).
Napi::Error to_js_error(Napi::Env env, std::exception_ptr error);

/// The CUDA device of the op call running on this thread: set by its first device tensor argument (parse_tensor)
/// or an explicit device (DeviceBuffer.fromHost, gumbel); every other device tensor of the call must be on it
/// (ERR_MIXED_DEVICES). guarded() starts a fresh one for each outermost call.
struct CallDevice {
  int device = -1;   // -1: no device yet
  std::string name;  // the argument that chose it
  int depth = 0;     // nesting of guarded() on this thread
};
CallDevice& call_device();

/// Runs body, converting any C++ exception into a thrown JS error; returns undefined after a throw.
template <typename Body>
Napi::Value guarded(Napi::Env env, Body&& body) {
  CallDevice& call = call_device();
  if (call.depth++ == 0) {
    call.device = -1;
    call.name.clear();
  }
  struct Leave {
    CallDevice& call;
    ~Leave() { --call.depth; }
  } leave{call};
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
