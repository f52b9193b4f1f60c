// CUDA runtime services: device status, the memory pool, copies and error translation.
#include <cuda_runtime.h>

#include <atomic>
#include <mutex>
#include <string>

#include "cuda_common.cuh"
#include "latent_struct/common.h"
#include "latent_struct/device.h"

namespace ls {
namespace cuda {

namespace {
DeviceStatus query_status() {
  DeviceStatus s;
  cudaRuntimeGetVersion(&s.runtime_version);
  cudaDriverGetVersion(&s.driver_version);
  const cudaError_t error = cudaGetDeviceCount(&s.device_count);
  if (error != cudaSuccess) {
    // Without any driver the runtime reports "driver version is insufficient": say what is really missing.
    s.reason = s.driver_version == 0
                   ? std::string("CUDA is compiled in but cannot run: no NVIDIA driver was found (no GPU on this "
                                 "machine?); the CUDA runtime says: ") +
                         cudaGetErrorString(error)
                   : std::string("CUDA is compiled in but cannot run: ") + cudaGetErrorString(error);
    s.device_count = 0;
    cudaGetLastError();
    return s;
  }
  if (s.device_count == 0) {
    s.reason = "CUDA is compiled in but no CUDA device is present";
    return s;
  }
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    s.reason = "cudaGetDeviceProperties failed";
    cudaGetLastError();
    return s;
  }
  s.name = prop.name;
  s.major = prop.major;
  s.minor = prop.minor;
  s.total_memory = prop.totalGlobalMem;
  s.available = true;
  return s;
}
}  // namespace

const DeviceStatus& status() {
  static std::once_flag once;
  static DeviceStatus cached;
  std::call_once(once, [] { cached = query_status(); });
  return cached;
}

void require_device() {
  if (!status().available) throw BackendError("ERR_NO_CUDA", status().reason);
}

cudaStream_t stream() {
  static std::once_flag once;
  static cudaStream_t instance = nullptr;
  std::call_once(once, [] {
    require_device();
    check(cudaSetDevice(0), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&instance, cudaStreamNonBlocking), "cudaStreamCreate");
    // Keep freed blocks in the pool instead of returning them to the driver at each synchronization.
    cudaMemPool_t pool;
    if (cudaDeviceGetDefaultMemPool(&pool, 0) == cudaSuccess) {
      uint64_t keep = UINT64_MAX;
      cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
    }
    cudaGetLastError();
  });
  return instance;
}

void check(cudaError_t error, const char* what) {
  if (error == cudaSuccess) return;
  cudaGetLastError();
  const char* code = error == cudaErrorMemoryAllocation ? "ERR_CUDA_OOM" : "ERR_CUDA";
  throw BackendError(code, std::string(what) + ": " + cudaGetErrorString(error));
}

void* allocate(std::size_t bytes) {
  require_device();
  void* pointer = nullptr;
  check(cudaMallocAsync(&pointer, bytes == 0 ? 1 : bytes, stream()), "cudaMallocAsync");
  return pointer;
}

void release(void* pointer) {
  if (pointer == nullptr || !status().available) return;
  cudaFreeAsync(pointer, stream());
  cudaGetLastError();
}

namespace {
std::atomic<uint64_t> to_device_count{0}, to_device_bytes{0}, to_host_count{0}, to_host_bytes{0};
}  // namespace

Transfers transfers() {
  Transfers t;
  t.to_device_count = to_device_count.load();
  t.to_device_bytes = to_device_bytes.load();
  t.to_host_count = to_host_count.load();
  t.to_host_bytes = to_host_bytes.load();
  return t;
}

void reset_transfers() {
  to_device_count = 0;
  to_device_bytes = 0;
  to_host_count = 0;
  to_host_bytes = 0;
}

void copy_to_device(void* device, const void* host, std::size_t bytes) {
  ++to_device_count;
  to_device_bytes += bytes;
  check(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream()), "cudaMemcpy to device");
  check(cudaStreamSynchronize(stream()), "cudaMemcpy to device");
}

void copy_to_host(void* host, const void* device, std::size_t bytes) {
  ++to_host_count;
  to_host_bytes += bytes;
  check(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream()), "cudaMemcpy to host");
  check(cudaStreamSynchronize(stream()), "cudaMemcpy to host");
}

void synchronize() { check(cudaStreamSynchronize(stream()), "cudaStreamSynchronize"); }

void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

std::size_t memory_in_use() {
  stream();  // the device is set and its context exists
  std::size_t free = 0, total = 0;
  check(cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
  return total - free;
}

}  // namespace cuda
}  // namespace ls
