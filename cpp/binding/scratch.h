// Memory a job owns besides its inputs and outputs: intermediate results (log Z, per-sequence sums) on the host
// or the device, and index results (labels, spans, heads) that kernels write where the data lives and JS reads
// on the host.
#pragma once
#include <napi.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "job.h"
#include "tensor.h"

#if LS_WITH_CUDA
#include "latent_struct/device.h"
#endif

namespace ls {
namespace binding {

/// Host or device memory for intermediate results that a job owns.
struct Scratch {
  std::shared_ptr<std::vector<double>> host;
  std::shared_ptr<DeviceMemory> device;
  void* data = nullptr;

  Scratch() = default;
  Scratch(bool on_device, std::size_t bytes) {
    if (on_device) {
      device = std::make_shared<DeviceMemory>(bytes);
      data = device->data();
    } else {
      host = std::make_shared<std::vector<double>>((bytes + sizeof(double) - 1) / sizeof(double) + 1);
      data = host->data();
    }
  }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data);
  }
  /// Keeps device memory alive until the job settles (host memory is kept by the job's lambdas).
  void hold(Job& job) const {
    if (device) job.keep_device.push_back(device);
  }
};

/// Values of element type E made by a kernel (on the device for device inputs), returned on the host as a typed
/// array (Int32Array for int32_t, Float64Array for double).
template <typename E>
struct KernelResult {
  Output host;
  Scratch device;
  E* kernel_data() const { return device.device ? device.as<E>() : static_cast<E*>(host.data); }
  void hold(Job& job) const {
    job.hold(host);
    device.hold(job);
  }
  /// Copies the device values to the host array (a no-op for host inputs). Runs in compute.
  void to_host() const {
#if LS_WITH_CUDA
    if (device.device) cuda::copy_to_host(host.data, device.data, device.device->bytes());
#endif
  }
};
using IndexOutput = KernelResult<int32_t>;
using DoubleOutput = KernelResult<double>;

inline IndexOutput make_index_result(Napi::Env env, bool on_device, int64_t count) {
  IndexOutput result;
  result.host = make_index_output(env, count);
  if (on_device) result.device = Scratch(true, static_cast<std::size_t>(count) * sizeof(int32_t));
  return result;
}

inline DoubleOutput make_double_result(Napi::Env env, bool on_device, int64_t count) {
  DoubleOutput result;
  result.host = make_output(env, DType::Float64, {count}, false);
  if (on_device) result.device = Scratch(true, static_cast<std::size_t>(count) * sizeof(double));
  return result;
}

/// Host integers a kernel reads: the vector itself, or a device copy made in compute by prepare().
struct IndexInput {
  std::shared_ptr<std::vector<int32_t>> host;
  Scratch device;
  const int32_t* kernel_data() const { return device.device ? device.as<const int32_t>() : host->data(); }
  void hold(Job& job) const { device.hold(job); }
  void prepare() const {
#if LS_WITH_CUDA
    if (device.device) cuda::copy_to_device(device.data, host->data(), host->size() * sizeof(int32_t));
#endif
  }
};

inline IndexInput make_index_input(std::vector<int32_t> values, bool on_device) {
  IndexInput input;
  input.host = std::make_shared<std::vector<int32_t>>(std::move(values));
  if (on_device) input.device = Scratch(true, input.host->size() * sizeof(int32_t) + sizeof(int32_t));
  return input;
}

/// A copy of host lengths on the device for device inputs (empty otherwise).
inline Scratch device_lengths_for(bool on_device, const std::vector<int32_t>& lengths) {
  if (!on_device || lengths.empty()) return Scratch();
  return Scratch(true, lengths.size() * sizeof(int32_t));
}

}  // namespace binding
}  // namespace ls
