// The addon's entry point: backendInfo, DeviceBuffer and the op families.
#include <napi.h>

#include "errors.h"
#include "host_pool.h"
#include "ops.h"
#include "tensor.h"
#if LS_WITH_CUDA
#include "latent_struct/device.h"
#endif
#include "../cpu/parallel.h"
#include "../cpu/vector_math.h"

namespace ls {
namespace binding {
namespace {

#if LS_WITH_CUDA
/// { toDevice: { count, bytes }, toHost: { count, bytes } } of cuda::transfers().
Napi::Object transfers_object(Napi::Env env) {
  const cuda::Transfers t = cuda::transfers();
  auto pair = [&](uint64_t count, uint64_t bytes) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("count", static_cast<double>(count));
    o.Set("bytes", static_cast<double>(bytes));
    return o;
  };
  Napi::Object result = Napi::Object::New(env);
  result.Set("toDevice", pair(t.to_device_count, t.to_device_bytes));
  result.Set("toHost", pair(t.to_host_count, t.to_host_bytes));
  return result;
}
#endif

Napi::Value backend_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("available", true);
  cpu.Set("threads", ls::cpu::thread_count());
  cpu.Set("simd", ls::cpu::vec::isa());
  result.Set("cpu", cpu);
  Napi::Object cuda_info = Napi::Object::New(env);
#if LS_WITH_CUDA
  const cuda::DeviceStatus& s = cuda::status();
  cuda_info.Set("compiled", true);
#if LS_CUDA_EMULATED
  cuda_info.Set("emulated", true);
#else
  cuda_info.Set("emulated", false);
#endif
  cuda_info.Set("available", s.available);
  cuda_info.Set("runtimeVersion", s.runtime_version);
  cuda_info.Set("driverVersion", s.driver_version);
  cuda_info.Set("deviceCount", s.device_count);
  cuda_info.Set("transfers", transfers_object(env));
  if (s.available) {
    Napi::Object device = Napi::Object::New(env);
    device.Set("name", s.name);
    device.Set("computeCapability", std::to_string(s.major) + "." + std::to_string(s.minor));
    device.Set("totalMemory", static_cast<double>(s.total_memory));
    cuda_info.Set("device", device);
    Napi::Array devices = Napi::Array::New(env, s.devices.size());
    for (std::size_t i = 0; i < s.devices.size(); ++i) {
      const cuda::DeviceStatus::Device& d = s.devices[i];
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("index", d.index);
      entry.Set("name", d.name);
      entry.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
      entry.Set("totalMemory", static_cast<double>(d.total_memory));
      devices.Set(static_cast<uint32_t>(i), entry);
    }
    cuda_info.Set("devices", devices);
  } else {
    cuda_info.Set("devices", Napi::Array::New(env, 0));
    cuda_info.Set("reason", s.reason);
  }
#else
  cuda_info.Set("compiled", false);
  cuda_info.Set("available", false);
  cuda_info.Set("devices", Napi::Array::New(env, 0));
  cuda_info.Set("reason", no_cuda_backend_reason());
#endif
  result.Set("cuda", cuda_info);
  return result;
}

Napi::Value synchronize(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
#if LS_WITH_CUDA
    if (cuda::status().available) {  // every device's stream
      for (int d = 0; d < cuda::status().device_count; ++d) {
        cuda::DeviceScope scope(d);
        cuda::synchronize();
      }
    }
#endif
    return info.Env().Undefined();
  });
}

/// setThreads(n): the CPU backend's threads per op, an integer in [1, 1024].
Napi::Value set_threads(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const std::string expected = "an integer in [1, " + std::to_string(ls::cpu::kMaxThreads) + "]";
    if (info.Length() < 1 || !info[0].IsNumber()) type_error("ERR_INVALID_ARG_TYPE", "threads must be " + expected);
    const double n = info[0].As<Napi::Number>().DoubleValue();
    if (!(n >= 1 && n <= ls::cpu::kMaxThreads) || n != static_cast<double>(static_cast<int>(n))) {
      range_error("ERR_OUT_OF_RANGE", "threads = " + info[0].ToString().Utf8Value() + " must be " + expected);
    }
    ls::cpu::set_thread_count(static_cast<int>(n));
    return info.Env().Undefined();
  });
}

/// Internal (the memory soak's measure where nvidia-smi is absent, e.g. on the emulated device): device bytes in use.
Napi::Value cuda_memory_in_use(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
#if LS_WITH_CUDA
    cuda::require_device();
    cuda::DeviceScope scope(parse_device_index(info[0], "device"));  // default cuda:0
    return Napi::Number::New(info.Env(), static_cast<double>(cuda::memory_in_use()));
#else
    throw BackendError("ERR_NO_CUDA", "this build has no CUDA backend");
#endif
  });
}


/// cudaTransfers(): the host <-> device copies counted since start-up or the last reset (zeros without CUDA).
Napi::Value cuda_transfers(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
#if LS_WITH_CUDA
    return transfers_object(info.Env());
#else
    Napi::Object zero = Napi::Object::New(info.Env());
    for (const char* side : {"toDevice", "toHost"}) {
      Napi::Object o = Napi::Object::New(info.Env());
      o.Set("count", 0);
      o.Set("bytes", 0);
      zero.Set(side, o);
    }
    return zero;
#endif
  });
}

/// resetCudaTransfers(): zeros the counts.
Napi::Value reset_cuda_transfers(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
#if LS_WITH_CUDA
    cuda::reset_transfers();
#endif
    return info.Env().Undefined();
  });
}

/// Internal (tests and the bench): the host result pool's state (host_pool.h).
Napi::Value host_pool_stats_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return host_pool_stats(info.Env()); });
}

/// Internal: setHostPoolLimit(bytes) (0 turns the pool off); LATENT_STRUCT_HOST_POOL_MIB sets it at start-up.
Napi::Value set_host_pool_limit(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const double bytes = parse_number(info[0], "bytes");
    if (bytes < 0) range_error("ERR_OUT_OF_RANGE", "bytes must be >= 0");
    HostPool::instance().set_limit(static_cast<std::size_t>(bytes));
    return info.Env().Undefined();
  });
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("backendInfo", Napi::Function::New(env, backend_info, "backendInfo"));
  exports.Set("synchronize", Napi::Function::New(env, synchronize, "synchronize"));
  exports.Set("setThreads", Napi::Function::New(env, set_threads, "setThreads"));
  exports.Set("cudaTransfers", Napi::Function::New(env, cuda_transfers, "cudaTransfers"));
  exports.Set("resetCudaTransfers", Napi::Function::New(env, reset_cuda_transfers, "resetCudaTransfers"));
  exports.Set("cudaMemoryInUse", Napi::Function::New(env, cuda_memory_in_use, "cudaMemoryInUse"));
  exports.Set("hostPoolStats", Napi::Function::New(env, host_pool_stats_op, "hostPoolStats"));
  exports.Set("setHostPoolLimit", Napi::Function::New(env, set_host_pool_limit, "setHostPoolLimit"));
  exports.Set("DeviceBuffer", DeviceBuffer::define(env));
  register_categorical_ops(env, exports);
  register_linear_chain_ops(env, exports);
  register_tree_ops(env, exports);
  register_parts_ops(env, exports);
  register_roofline_ops(env, exports);
  return exports;
}

}  // namespace binding
}  // namespace ls

static Napi::Object InitLatentStruct(Napi::Env env, Napi::Object exports) { return ls::binding::init(env, exports); }

NODE_API_MODULE(latent_struct, InitLatentStruct)
