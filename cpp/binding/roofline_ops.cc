// Internal entry points of the bench: the CPU's measured ceilings (cpu/roofline.h).
#include <napi.h>

#include "../cpu/roofline.h"
#include "errors.h"
#include "ops.h"
#include "tensor.h"

namespace ls {
namespace binding {
namespace {

/// measureExpRate(dtype, elementsPerThread, repeats): exp/s of the CPU's vector exp on every thread.
Napi::Value measure_exp_rate(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const std::string dtype = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    if (dtype != "float32" && dtype != "float64") type_error("ERR_INVALID_ARG_TYPE", "dtype must be 'float32' or 'float64'");
    const int64_t elements = parse_integer(info[1], "elementsPerThread", 1, int64_t(1) << 26);
    const int64_t repeats = parse_integer(info[2], "repeats", 1, int64_t(1) << 30);
    return Napi::Number::New(info.Env(), cpu::measure_exp_rate(dtype == "float64", elements, repeats));
  });
}

/// measureCopyBandwidth(bytesPerThread, repeats): bytes/s (read + written) of memcpy on every thread.
Napi::Value measure_copy_bandwidth(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const int64_t bytes = parse_integer(info[0], "bytesPerThread", 1, int64_t(1) << 32);
    const int64_t repeats = parse_integer(info[1], "repeats", 1, int64_t(1) << 20);
    return Napi::Number::New(info.Env(), cpu::measure_copy_bandwidth(bytes, repeats));
  });
}

}  // namespace

void register_roofline_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("measureExpRate", Napi::Function::New(env, measure_exp_rate, "measureExpRate"));
  exports.Set("measureCopyBandwidth", Napi::Function::New(env, measure_copy_bandwidth, "measureCopyBandwidth"));
}

}  // namespace binding
}  // namespace ls
