// Kernels for the emulated CUDA device's own tests (test/emulator/emulator.test.ts): deliberately broken ones that
// the emulator must report, and correct ones it must run exactly. Never part of the library: cuda/ has none of these.
// Usage: kernels <case>; prints "<case>: <cudaError name>[: <message>] [result ...]".
#include <cuda_runtime.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

// A __syncthreads() only the first warp reaches.
__global__ void divergent_barrier(float* out) {
  if (threadIdx.x < 32) __syncthreads();
  out[threadIdx.x] = 1;
}

// Half the warp returns; the other half shuffles with a full mask.
__global__ void shuffle_after_exit(float* out) {
  if (threadIdx.x >= 16) return;
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, 1.0f, 1);
}

// The lanes of a warp at two different collectives.
__global__ void split_collectives(float* out) {
  float v = static_cast<float>(threadIdx.x);
  if (threadIdx.x % 2 == 0) {
    v = __shfl_down_sync(0xffffffffu, v, 1);
  } else {
    __syncwarp();
  }
  out[threadIdx.x] = v;
}

// Reads one element past the end (i == n) or before the start (i == -1).
__global__ void off_by_one(const float* x, float* out, int n, int offset) {
  const int i = static_cast<int>(threadIdx.x) + offset;
  if (threadIdx.x < static_cast<unsigned>(n)) out[threadIdx.x] = x[i];
}

// A struct parameter that carries pointers, as the structures' potentials do.
struct Inputs {
  const float* x;
  int n;
  std::array<const void*, 1> pointers() const { return {x}; }
};
__global__ void copy_inputs(Inputs in, float* out) {
  if (threadIdx.x < static_cast<unsigned>(in.n)) out[threadIdx.x] = in.x[threadIdx.x];
}

// Sums a buffer nobody wrote: the poison (NaN) shows in the result.
__global__ void sum(const double* x, int n, double* out) {
  double total = 0;
  for (int i = 0; i < n; ++i) total += x[i];
  *out = total;
}

// Correct: a block of 64 threads reverses through shared memory, then each warp reduces with shuffles.
__global__ void reverse_and_reduce(const float* x, float* out) {
  __shared__ float s[64];
  s[threadIdx.x] = x[threadIdx.x];
  __syncthreads();
  float v = s[63 - threadIdx.x];
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  v = __shfl_sync(0xffffffffu, v, 0);
  const unsigned ballot = __ballot_sync(0xffffffffu, threadIdx.x % 3 == 0);
  const int count = __syncthreads_count(threadIdx.x < 10);
  out[blockIdx.x * 64 + threadIdx.x] = v + static_cast<float>(__popc(ballot)) * 1000 + static_cast<float>(count) * 1e5f;
}

// Uneven warps: each warp syncs once per step of its own length (legal: __syncwarp is per warp).
__global__ void uneven_warps(int* steps) {
  const int length = threadIdx.x < 32 ? 1 : 3;
  for (int n = 0; n < length; ++n) {
    atomicAdd(steps, 1);
    __syncwarp();
  }
}

int report(const char* what, cudaError_t error) {
  std::printf("%s: %s", what, cudaGetErrorName(error));
  if (error != cudaSuccess) std::printf(": %s", cudaGetErrorString(error));
  std::printf("\n");
  return 0;
}

cudaError_t launched() {
  cudaError_t e = cudaGetLastError();
  return e;
}

/// Runs reverse_and_reduce on 2 blocks and checks every output; returns the number of wrong ones.
int run_correct_kernel() {
  float host[128], *x = nullptr, *out = nullptr;
  for (int i = 0; i < 64; ++i) host[i] = static_cast<float>(i);
  cudaMalloc(&x, 64 * sizeof(float));
  cudaMalloc(&out, 128 * sizeof(float));
  cudaMemcpy(x, host, 64 * sizeof(float), cudaMemcpyHostToDevice);
  ::cuemu::launch("reverse_and_reduce", reverse_and_reduce, dim3(2), dim3(64), 0, nullptr, static_cast<const float*>(x), out);
  int wrong = launched() != cudaSuccess ? 1000 : 0;
  cudaMemcpy(host, out, 128 * sizeof(float), cudaMemcpyDeviceToHost);
  for (int b = 0; b < 2; ++b) {
    for (int t = 0; t < 64; ++t) {
      // Warp w holds s[63 - t] for its t, i.e. values 63-32w .. 32-32w; the ballot of a warp counts t % 3 == 0.
      const int w = t / 32;
      float want = 0;
      for (int k = 0; k < 32; ++k) want += static_cast<float>(63 - (32 * w + k));
      int ones = 0;
      for (int k = 0; k < 32; ++k) ones += (32 * w + k) % 3 == 0;
      want += static_cast<float>(ones) * 1000 + 10 * 1e5f;
      wrong += host[b * 64 + t] != want;
    }
  }
  cudaFree(x);
  cudaFree(out);
  return wrong;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  float* out = nullptr;
  cudaMalloc(&out, 1024 * sizeof(float));
  if (what == "divergent-barrier") {
    ::cuemu::launch("divergent_barrier", divergent_barrier, dim3(1), dim3(64), 0, nullptr, out);
    return report("divergent-barrier", launched());
  }
  if (what == "shuffle-after-exit") {
    ::cuemu::launch("shuffle_after_exit", shuffle_after_exit, dim3(1), dim3(32), 0, nullptr, out);
    return report("shuffle-after-exit", launched());
  }
  if (what == "split-collectives") {
    ::cuemu::launch("split_collectives", split_collectives, dim3(1), dim3(32), 0, nullptr, out);
    return report("split-collectives", launched());
  }
  if (what == "read-past-end" || what == "read-before-start") {
    float* x = nullptr;
    cudaMalloc(&x, 100 * sizeof(float));
    cudaMemset(x, 0, 100 * sizeof(float));
    const int offset = what == "read-past-end" ? 1 : -1;
    ::cuemu::launch("off_by_one", off_by_one, dim3(1), dim3(128), 0, nullptr, static_cast<const float*>(x), out, 100, offset);
    report(what.c_str(), launched());
    // The device works after the fault.
    std::printf("after: %d wrong\n", run_correct_kernel());
    return 0;
  }
  if (what == "unwritten-memory") {
    double *x = nullptr, *total = nullptr, host = 0;
    cudaMallocAsync(&x, 16 * sizeof(double), nullptr);
    cudaMallocAsync(&total, sizeof(double), nullptr);
    ::cuemu::launch("sum", sum, dim3(1), dim3(1), 0, nullptr, static_cast<const double*>(x), 16, total);
    report("unwritten-memory", launched());
    cudaMemcpy(&host, total, sizeof host, cudaMemcpyDeviceToHost);
    std::printf("sum: %s\n", std::isnan(host) ? "NaN" : std::to_string(host).c_str());
    return 0;
  }
  if (what == "host-pointer") {
    static float host[128];
    ::cuemu::launch("off_by_one", off_by_one, dim3(1), dim3(32), 0, nullptr, static_cast<const float*>(host), out, 32, 0);
    return report("host-pointer", launched());
  }
  if (what == "struct-host-pointer") {
    static float host[32];
    ::cuemu::launch("copy_inputs", copy_inputs, dim3(1), dim3(32), 0, nullptr, Inputs{host, 32}, out);
    return report("struct-host-pointer", launched());
  }
  if (what == "other-device-pointer") {  // LATENT_STRUCT_EMULATED_DEVICES=2: memory of device 1 on device 0
    float* x1 = nullptr;
    cudaSetDevice(1);
    cudaMalloc(&x1, 128 * sizeof(float));
    cudaSetDevice(0);
    ::cuemu::launch("off_by_one", off_by_one, dim3(1), dim3(32), 0, nullptr, static_cast<const float*>(x1), out, 32, 0);
    return report("other-device-pointer", launched());
  }
  if (what == "other-device-stream") {  // a stream made on device 1 used with device 0 current
    cudaStream_t s1 = nullptr;
    cudaSetDevice(1);
    cudaStreamCreate(&s1);
    cudaSetDevice(0);
    ::cuemu::launch("off_by_one", off_by_one, dim3(1), dim3(32), 0, s1, static_cast<const float*>(out), out, 32, 0);
    return report("other-device-stream", launched());
  }
  if (what == "devices") {  // the count, a device that does not exist, memory per device
    int count = 0, current = -1;
    cudaGetDeviceCount(&count);
    const cudaError_t bad = cudaSetDevice(count);
    cudaGetLastError();
    cudaSetDevice(1);
    void* p = nullptr;
    cudaMalloc(&p, 1 << 20);
    cudaGetDevice(&current);
    std::size_t free1 = 0, total = 0, free0 = 0;
    cudaMemGetInfo(&free1, &total);
    cudaSetDevice(0);
    cudaMemGetInfo(&free0, &total);
    std::printf("count %d, set(count): %s, current %d, used on 1: %zu, used on 0: %zu\n", count, cudaGetErrorName(bad),
                current, total - free1, total - free0);
    return 0;
  }
  if (what == "too-many-threads") {
    ::cuemu::launch("divergent_barrier", divergent_barrier, dim3(1), dim3(2048), 0, nullptr, out);
    return report("too-many-threads", launched());
  }
  if (what == "out-of-memory") {
    void* p = nullptr;
    return report("out-of-memory", cudaMalloc(&p, std::size_t(1) << 40));
  }
  if (what == "copy-past-end") {
    float host[2048];
    return report("copy-past-end", cudaMemcpy(host, out, sizeof host, cudaMemcpyDeviceToHost));
  }
  if (what == "correct") {
    std::printf("correct: %d wrong\n", run_correct_kernel());
    int *steps = nullptr, host = 0;
    cudaMalloc(&steps, sizeof(int));
    cudaMemset(steps, 0, sizeof(int));
    ::cuemu::launch("uneven_warps", uneven_warps, dim3(1), dim3(64), 0, nullptr, steps);
    report("uneven-warps", launched());
    cudaMemcpy(&host, steps, sizeof host, cudaMemcpyDeviceToHost);
    std::printf("uneven-warps: %d steps\n", host);
    // Two host threads launching at once: each block runs on its own thread's fibers.
    int wrong[2] = {0, 0};
    std::thread a([&] { for (int i = 0; i < 20; ++i) wrong[0] += run_correct_kernel(); });
    std::thread b([&] { for (int i = 0; i < 20; ++i) wrong[1] += run_correct_kernel(); });
    a.join();
    b.join();
    std::printf("threads: %d wrong\n", wrong[0] + wrong[1]);
    return 0;
  }
  std::fprintf(stderr, "unknown case %s\n", what.c_str());
  return 2;
}
