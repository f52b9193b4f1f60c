// Picking the backend and the dtype of a kernel call. LS_CALL(on_device, kernel<T>, args...) calls
// ls::cuda::kernel<T> for device data and ls::cpu::kernel<T> for host data; in a CPU-only build the device
// branch raises ERR_NO_CUDA (device data cannot exist there, so this is a guard, not a path).
#pragma once
#include <cstdint>
#include <string>

#include "errors.h"
#include "latent_struct/common.h"
#include "tensor.h"

namespace ls {
namespace binding {

template <typename R>
R no_cuda_backend() {
  throw BackendError("ERR_NO_CUDA", "this build of latent-struct has no CUDA backend");
}

/// Calls f(T()) with T = float or double according to dtype.
template <typename F>
void for_dtype(DType dtype, F&& f) {
  if (dtype == DType::Float32) {
    f(float());
  } else {
    f(double());
  }
}

}  // namespace binding
}  // namespace ls

#if LS_WITH_CUDA
#include "latent_struct/device.h"
#define LS_CALL(on_device, kernel, ...) ((on_device) ? ::ls::cuda::kernel(__VA_ARGS__) : ::ls::cpu::kernel(__VA_ARGS__))
#else
#define LS_CALL(on_device, kernel, ...)                                                                      \
  ((on_device) ? ::ls::binding::no_cuda_backend<decltype(::ls::cpu::kernel(__VA_ARGS__))>()                  \
               : ::ls::cpu::kernel(__VA_ARGS__))
#endif
