// The CUDA runtime services the binding needs: status, memory (stream-ordered pool), copies. Implemented in
// cuda/device.cu; present only in builds with LS_WITH_CUDA=1.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ls {
namespace cuda {

/// Devices the library addresses at most (cuda:0 .. cuda:63).
constexpr int kMaxDevices = 64;

struct DeviceStatus {
  bool available = false;  // a device can run our kernels
  std::string reason;      // why not, when not available
  int device_count = 0;
  std::string name;
  int major = 0, minor = 0;
  std::size_t total_memory = 0;
  int runtime_version = 0, driver_version = 0;
  /// Every device, by index (cuda:0, cuda:1, ...); name/major/minor/total_memory above are device 0's.
  struct Device {
    int index = 0;
    std::string name;
    int major = 0, minor = 0;
    std::size_t total_memory = 0;
  };
  std::vector<Device> devices;
};

/// Queries the driver once (cached); never throws.
const DeviceStatus& status();

/// Throws BackendError(ERR_NO_CUDA) unless status().available.
void require_device();

/// The device the calling host thread works on (cuda:N): 0 until set_device() on this thread. Streams,
/// allocations, copies and launches of this thread go to this device's stream and pool.
int current_device();
/// Makes `device` the calling thread's device (cudaSetDevice on this thread). Throws BackendError(ERR_NO_CUDA)
/// unless CUDA is usable, ArgumentError RangeError(ERR_NO_DEVICE) when no device has that index.
void set_device(int device);

/// Sets a device for a scope and restores the thread's previous one when it ends (never throws on restore).
class DeviceScope {
 public:
  explicit DeviceScope(int device) : previous_(current_device()) { set_device(device); }
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_;
};

/// Device memory from the current device's stream-ordered pool (cudaMallocAsync on its stream); throws
/// BackendError(ERR_CUDA_OOM).
void* allocate(std::size_t bytes);
/// Frees memory of allocate() in the order of the current device's stream: call it on the device it came from.
void release(void* pointer);
void copy_to_device(void* device, const void* host, std::size_t bytes);
void copy_to_host(void* host, const void* device, std::size_t bytes);
/// Waits for the current device's stream (the library's one stream per device); raises the first asynchronous error of earlier kernels.
void synchronize();
/// Raises the error of the last launch, if any.
void check_launch(const char* kernel);
/// Memory in use on the current device (allocated by anyone, the pool's reserve included), in bytes.
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
