// The emulated CUDA device: the subset of CUDA C++ and of the runtime API that cuda/*.cu uses, for the host C++
// compiler, so that the CUDA backend's own sources run (slowly, with CUDA's semantics) on a machine without a GPU.
// Built only with -DLS_CUDA_EMULATE=ON (CMakeLists.txt), where this folder comes first on the include path.
//
// Every CUDA thread of a block is a fiber that switches only at __syncthreads, __syncwarp and the warp
// collectives, which are real barriers over the lanes in their mask. Device memory is host memory with a guard
// page after each allocation; launches, copies and the pool are synchronous. What a GPU would show only as a
// hang, a fault or garbage is reported as a launch error (cudaErrorLaunchFailure, cudaErrorIllegalAddress, ...):
// see runtime.cc and README.md beside this file.
#pragma once
#define LS_CUDA_EMULATED 1

#include <math.h>  // the float overloads of exp, log, ... in the global namespace, as device code has them

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

#if defined(__USE_FORTIFY_LEVEL) && __USE_FORTIFY_LEVEL > 0
#error "the emulated CUDA device switches fibers with _longjmp, which _FORTIFY_SOURCE rejects: build with -U_FORTIFY_SOURCE"
#endif

// Kernels and the device functions they call take their device paths (sm_90, the H100/H200 the project targets).
#ifndef __CUDA_ARCH__
#define __CUDA_ARCH__ 900
#endif

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __restrict__ __restrict
// One copy in the process, which runs one block at a time (runtime.cc): the block's shared memory.
#define __shared__ static

// ---- Types --------------------------------------------------------------------------------------------------
struct uint3 {
  unsigned int x, y, z;
};
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorLaunchFailure = 719,
  cudaErrorUnknown = 999,
};
typedef enum cudaError cudaError_t;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaMemPoolAttr { cudaMemPoolReuseFollowEventDependencies = 1, cudaMemPoolAttrReleaseThreshold = 4 };
#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01

struct CUstream_st;
typedef CUstream_st* cudaStream_t;
struct CUevent_st;
typedef CUevent_st* cudaEvent_t;
struct CUmemPoolHandle_st;
typedef CUmemPoolHandle_st* cudaMemPool_t;

struct cudaDeviceProp {
  char name[256];
  std::size_t totalGlobalMem;
  std::size_t sharedMemPerBlock;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int major;
  int minor;
  int multiProcessorCount;
  int memoryPoolsSupported;
};

constexpr int warpSize = 32;

// ---- The emulator's interface to the code above the runtime API ---------------------------------------------
namespace cuemu {

/// Where the calling CUDA thread is.
struct ThreadPlace {
  uint3 thread;
  uint3 block;
  dim3 block_dim;
  dim3 grid_dim;
};
const ThreadPlace& here();

/// Runs `invoke(body)` as every thread of every block of the grid; raises the launch's error, if any.
void run_grid(const char* name, dim3 grid, dim3 block, std::size_t shared_bytes, void (*invoke)(void*), void* body);

/// Raises cudaErrorInvalidDevicePointer when `pointer`, parameter `index` of a kernel or carried by it, is not null
/// and not memory of the current device (host memory, or another device's).
bool check_device_pointer(const char* name, int index, const void* pointer);

/// Raises cudaErrorInvalidResourceHandle when `stream` (not null) belongs to another device than the calling host
/// thread's current one (cudaSetDevice): work is issued on a stream with its device current.
bool check_stream(const char* what, cudaStream_t stream);

/// Struct parameters that carry pointers list them: `std::array<const void*, N> pointers() const`.
template <typename P, typename = void>
struct CarriesPointers : std::false_type {};
template <typename P>
struct CarriesPointers<P, std::void_t<decltype(std::declval<const P&>().pointers())>> : std::true_type {};

template <typename P>
bool check_parameter(const char* name, int index, const P& parameter) {
  if constexpr (std::is_pointer<P>::value) {
    return check_device_pointer(name, index, static_cast<const void*>(parameter));
  } else if constexpr (CarriesPointers<P>::value) {
    for (const void* p : parameter.pointers()) {
      if (!check_device_pointer(name, index, p)) return false;
    }
  }
  return true;
}

/// __syncthreads(); __syncthreads_count() when `count` is not null.
void block_barrier(int predicate, int* count);
/// The warp collectives: every lane of `mask` publishes `size` bytes of `value` and reads those of lane
/// `source` (a shuffle), or the lanes' predicates (a ballot), or nothing (__syncwarp).
enum class Collective { Sync, Shuffle, Ballot };
void warp_collective(unsigned mask, const char* what, Collective kind, const void* value, std::size_t size,
                     unsigned source, void* result);
unsigned lane_id();
unsigned live_lanes();

/// The launch itself: `kernel<<<grid, block, shared, stream>>>(params...)`, each thread with its own copies.
template <typename... Params>
void launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared_bytes,
            cudaStream_t stream, Params... params) {
  if (!check_stream(name, stream)) return;
  struct Closure {
    void (*kernel)(Params...);
    std::tuple<Params...> params;
  } closure{kernel, std::tuple<Params...>(params...)};
  int index = 0;
  const bool pointers_ok = (check_parameter(name, index++, params) && ...);
  if (!pointers_ok) return;
  run_grid(name, grid, block, shared_bytes, [](void* p) {
    Closure& c = *static_cast<Closure*>(p);
    std::apply(c.kernel, c.params);  // the kernel takes its parameters by value: a copy per thread
  }, &closure);
}

}  // namespace cuemu

#define threadIdx (::cuemu::here().thread)
#define blockIdx (::cuemu::here().block)
#define blockDim (::cuemu::here().block_dim)
#define gridDim (::cuemu::here().grid_dim)

// ---- Synchronization and warp collectives ---------------------------------------------------------------------
inline void __syncthreads() { ::cuemu::block_barrier(0, nullptr); }
inline int __syncthreads_count(int predicate) {
  int count = 0;
  ::cuemu::block_barrier(predicate, &count);
  return count;
}
inline int __syncthreads_or(int predicate) { return __syncthreads_count(predicate) > 0; }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  ::cuemu::warp_collective(mask, "__syncwarp", ::cuemu::Collective::Sync, nullptr, 0, 0, nullptr);
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

namespace cuemu {
template <typename T>
T shuffle(unsigned mask, T value, unsigned source, const char* what) {
  static_assert(sizeof(T) <= 16 && std::is_trivially_copyable<T>::value, "a shuffled value is at most 16 bytes");
  T result;
  warp_collective(mask, what, Collective::Shuffle, &value, sizeof(T), source, &result);
  return result;
}
}  // namespace cuemu

// The source lanes follow the CUDA C++ Programming Guide, "Warp Shuffle Functions": a lane whose source is outside
// its width-segment (or beyond the warp) reads its own value.
template <typename T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  const unsigned lane = ::cuemu::lane_id(), w = static_cast<unsigned>(width);
  return ::cuemu::shuffle(mask, var, (lane & ~(w - 1)) + (static_cast<unsigned>(src_lane) & (w - 1)), "__shfl_sync");
}
template <typename T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  const unsigned lane = ::cuemu::lane_id(), w = static_cast<unsigned>(width);
  return ::cuemu::shuffle(mask, var, (lane & (w - 1)) + delta < w ? lane + delta : lane, "__shfl_down_sync");
}
template <typename T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  const unsigned lane = ::cuemu::lane_id(), w = static_cast<unsigned>(width);
  return ::cuemu::shuffle(mask, var, (lane & (w - 1)) >= delta ? lane - delta : lane, "__shfl_up_sync");
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  const unsigned lane = ::cuemu::lane_id(), w = static_cast<unsigned>(width);
  const unsigned source = lane ^ static_cast<unsigned>(lane_mask);
  return ::cuemu::shuffle(mask, var, source / w == lane / w ? source : lane, "__shfl_xor_sync");
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  const int vote = predicate != 0;
  unsigned bits = 0;
  ::cuemu::warp_collective(mask, "__ballot_sync", ::cuemu::Collective::Ballot, &vote, sizeof vote, 0, &bits);
  return bits;
}
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) { return __ballot_sync(mask, !predicate) == 0; }
inline unsigned __activemask() { return ::cuemu::live_lanes(); }

// ---- Atomics: real ones, since several host threads may run kernels at once -----------------------------------
template <typename T>
T atomicAdd(T* address, T value) {
  if constexpr (std::is_integral<T>::value) {
    return __atomic_fetch_add(address, value, __ATOMIC_SEQ_CST);
  } else {
    T old, desired;
    __atomic_load(address, &old, __ATOMIC_SEQ_CST);
    do {
      desired = old + value;
    } while (!__atomic_compare_exchange(address, &old, &desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    return old;
  }
}
template <typename T>
T atomicExch(T* address, T value) {
  return __atomic_exchange_n(address, value, __ATOMIC_SEQ_CST);
}
template <typename T>
T atomicCAS(T* address, T compare, T value) {
  __atomic_compare_exchange_n(address, &compare, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;
}
template <typename T>
T atomicMin(T* address, T value) {
  T old = __atomic_load_n(address, __ATOMIC_SEQ_CST);
  while (value < old && !__atomic_compare_exchange_n(address, &old, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
  }
  return old;
}
template <typename T>
T atomicMax(T* address, T value) {
  T old = __atomic_load_n(address, __ATOMIC_SEQ_CST);
  while (value > old && !__atomic_compare_exchange_n(address, &old, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
  }
  return old;
}

// ---- Intrinsics: the fast-math ones are the exact host functions (a GPU's differ in the last bits) --------------
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float x, float y) { return x / y; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
template <typename T>
T __ldg(const T* p) {
  return *p;
}
// Correctly rounded arithmetic, never contracted into an FMA (what nvcc's __dadd_rn/__dmul_rn guarantee).
inline double __dadd_rn(double a, double b) {
  volatile double r = a + b;
  return r;
}
inline double __dmul_rn(double a, double b) {
  volatile double r = a * b;
  return r;
}
inline float __fadd_rn(float a, float b) {
  volatile float r = a + b;
  return r;
}
inline float __fmul_rn(float a, float b) {
  volatile float r = a * b;
  return r;
}

// ---- Runtime API (runtime.cc) ---------------------------------------------------------------------------------
const char* cudaGetErrorName(cudaError_t error);
const char* cudaGetErrorString(cudaError_t error);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
cudaError_t cudaRuntimeGetVersion(int* version);
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* properties, int device);
cudaError_t cudaMemGetInfo(std::size_t* free, std::size_t* total);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int device);
cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attribute, void* value);
cudaError_t cudaMalloc(void** pointer, std::size_t bytes);
cudaError_t cudaFree(void* pointer);
cudaError_t cudaMallocAsync(void** pointer, std::size_t bytes, cudaStream_t stream);
cudaError_t cudaFreeAsync(void* pointer, cudaStream_t stream);
cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* dst, int value, std::size_t bytes);
cudaError_t cudaMemsetAsync(void* dst, int value, std::size_t bytes, cudaStream_t stream = nullptr);
template <typename T>
cudaError_t cudaMalloc(T** pointer, std::size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(pointer), bytes);
}
template <typename T>
cudaError_t cudaMallocAsync(T** pointer, std::size_t bytes, cudaStream_t stream) {
  return cudaMallocAsync(reinterpret_cast<void**>(pointer), bytes, stream);
}
