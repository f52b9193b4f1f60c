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
  if (s.device_count > kMaxDevices) s.device_count = kMaxDevices;
  for (int i = 0; i < s.device_count; ++i) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      cudaGetLastError();
      if (i == 0) {
        s.reason = "cudaGetDeviceProperties failed";
        return s;
      }
      s.device_count = i;  // list the devices that answer
      break;
    }
    DeviceStatus::Device d;
    d.index = i;
    d.name = prop.name;
    d.major = prop.major;
    d.minor = prop.minor;
    d.total_memory = prop.totalGlobalMem;
    s.devices.push_back(d);
  }
  s.name = s.devices[0].name;
  s.major = s.devices[0].major;
  s.minor = s.devices[0].minor;
  s.total_memory = s.devices[0].total_memory;
  s.available = true;
  return s;
}

// The thread's device (what the library asked for) and the device cudaSetDevice was last called with on this
// thread (-1: never; a fresh libuv worker thread starts there and gets the device before its first CUDA call).
thread_local int thread_device = 0;
thread_local int thread_set_device = -1;

/// One non-blocking stream per device, made on first use with the device's pool kept (release threshold max).
std::mutex streams_mutex;
std::atomic<cudaStream_t> streams[kMaxDevices];

/// cudaSetDevice(thread_device) unless this thread already did.
void bind_thread() {
  if (thread_set_device == thread_device) return;
  check(cudaSetDevice(thread_device), "cudaSetDevice");
  thread_set_device = thread_device;
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

int current_device() { return thread_device; }

void set_device(int device) {
  require_device();
  const int count = status().device_count;
  if (device < 0 || device >= count) {
    throw ArgumentError(false, "ERR_NO_DEVICE",
                        "device cuda:" + std::to_string(device) + " does not exist: this machine has " +
                            std::to_string(count) + " CUDA device" + (count == 1 ? "" : "s") + " (cuda:0" +
                            (count > 1 ? " .. cuda:" + std::to_string(count - 1) : std::string()) + ")");
  }
  thread_device = device;
  bind_thread();
}

DeviceScope::~DeviceScope() {
  if (previous_ == thread_device) return;
  thread_device = previous_;
  if (cudaSetDevice(previous_) == cudaSuccess) {
    thread_set_device = previous_;
  } else {
    thread_set_device = -1;
    cudaGetLastError();
  }
}

cudaStream_t stream() {
  require_device();
  bind_thread();
  const int device = thread_device;
  cudaStream_t instance = streams[device].load(std::memory_order_acquire);
  if (instance != nullptr) return instance;
  std::lock_guard<std::mutex> lock(streams_mutex);
  instance = streams[device].load(std::memory_order_relaxed);
  if (instance != nullptr) return instance;
  check(cudaStreamCreateWithFlags(&instance, cudaStreamNonBlocking), "cudaStreamCreate");
  // Keep freed blocks in the device's pool instead of returning them to the driver at each synchronization.
  cudaMemPool_t pool;
  if (cudaDeviceGetDefaultMemPool(&pool, device) == cudaSuccess) {
    uint64_t keep = UINT64_MAX;
    cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
  }
  cudaGetLastError();
  streams[device].store(instance, std::memory_order_release);
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
  stream();  // the thread's device is set and its context exists
  std::size_t free = 0, total = 0;
  check(cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
  return total - free;
}

}  // namespace cuda
}  // namespace ls
