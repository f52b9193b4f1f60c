// The CUDA runtime services the binding needs: status, memory (stream-ordered pool), copies. Implemented in
// cuda/device.cu; present only in builds with LS_WITH_CUDA=1.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ls {
namespace cuda {

struct DeviceStatus {
  bool available = false;  // a device can run our kernels
  std::string reason;      // why not, when not available
  int device_count = 0;
  std::string name;
  int major = 0, minor = 0;
  std::size_t total_memory = 0;
  int runtime_version = 0, driver_version = 0;
};

/// Queries the driver once (cached); never throws.
const DeviceStatus& status();

/// Throws BackendError(ERR_NO_CUDA) unless status().available.
void require_device();

/// Device memory from the stream-ordered pool (cudaMallocAsync); throws BackendError(ERR_CUDA_OOM).
void* allocate(std::size_t bytes);
void release(void* pointer);
void copy_to_device(void* device, const void* host, std::size_t bytes);
void copy_to_host(void* host, const void* device, std::size_t bytes);
/// Waits for the library's stream; raises the first asynchronous error of earlier kernels.
void synchronize();
/// Raises the error of the last launch, if any.
void check_launch(const char* kernel);
/// Device memory in use (allocated by anyone, the pool's reserve included), in bytes.
std::size_t memory_in_use();

/// Host <-> device copies made by the library since start-up or the last reset_transfers(): every copy goes through
/// copy_to_device / copy_to_host, which count them.
struct Transfers {
  uint64_t to_device_count = 0, to_device_bytes = 0;
  uint64_t to_host_count = 0, to_host_bytes = 0;
};
Transfers transfers();
void reset_transfers();

}  // namespace cuda
}  // namespace ls
