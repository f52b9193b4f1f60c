#include "tensor.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <limits>

#include "errors.h"
#include "host_pool.h"
#if LS_WITH_CUDA
#include "latent_struct/device.h"
#endif

namespace ls {
namespace binding {
namespace {

constexpr int64_t kMaxDim = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxElements = int64_t(1) << 50;  // bytes stay below 2^53, exact in a JS number

struct AddonData {
  Napi::FunctionReference device_buffer;
};

/// What create() passes to the constructor through an External.
struct NewBuffer {
  DType dtype;
  std::vector<int64_t> shape;
};

int64_t product(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

/// What napi_get_typedarray_info tells; `data` points at the first element, also for a SharedArrayBuffer (whose
/// ArrayBuffer accessors fail).
struct TypedArrayInfo {
  napi_typedarray_type type = napi_int8_array;
  std::size_t length = 0;
  void* data = nullptr;
};

TypedArrayInfo typed_array_info(Napi::Env env, Napi::Value value) {
  TypedArrayInfo info;
  const napi_status status = napi_get_typedarray_info(env, value, &info.type, &info.length, &info.data, nullptr, nullptr);
  NAPI_THROW_IF_FAILED(env, status, info);
  return info;
}

std::size_t element_size(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      return 1;
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array:
      return 8;
    default:
      return 4;
  }
}

/// V8 typed arrays hold at most 2^32 elements on 64-bit Node 20 (v8::TypedArray::kMaxLength; larger in newer V8).
constexpr int64_t kMaxHostElements = (int64_t(1) << 32) - 1;
/// Allocations at least this large are tried before V8 makes them: V8 aborts when its allocation fails.
constexpr std::size_t kProbedBytes = std::size_t(1) << 24;

}  // namespace

DeviceMemory::DeviceMemory(std::size_t bytes) : bytes_(bytes) {
#if LS_WITH_CUDA
  data_ = cuda::allocate(bytes);
  device_ = cuda::current_device();
#else
  throw BackendError("ERR_NO_CUDA", no_cuda_backend_reason());
#endif
}

DeviceMemory::~DeviceMemory() {
#if LS_WITH_CUDA
  // Freed in the order of its own device's stream, whatever thread (and device) drops the last reference.
  try {
    cuda::DeviceScope scope(device_);
    cuda::release(data_);
  } catch (...) {
  }
#endif
}

void use_call_device(int device, const std::string& name) {
  CallDevice& call = call_device();
  if (call.device >= 0 && call.device != device) {
    type_error("ERR_MIXED_DEVICES", name + " is on cuda:" + std::to_string(device) + " but " + call.name + " is on cuda:" +
                                        std::to_string(call.device));
  }
#if LS_WITH_CUDA
  cuda::set_device(device);
#else
  throw BackendError("ERR_NO_CUDA", no_cuda_backend_reason());
#endif
  if (call.device < 0) {
    call.device = device;
    call.name = name;
  }
}

int parse_device_index(Napi::Value value, const std::string& name) {
  if (value.IsUndefined() || value.IsNull()) {
    const int current = call_device().device;
    return current >= 0 ? current : 0;
  }
  return static_cast<int>(parse_integer(value, name, 0, 63));
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::vector<int64_t> parse_shape(Napi::Value value, const std::string& name, int64_t* count) {
  if (!value.IsArray()) type_error("ERR_INVALID_ARG_TYPE", name + " must be an array of dimensions");
  const Napi::Array array = value.As<Napi::Array>();
  const uint32_t rank = array.Length();
  if (rank < 1 || rank > 8) range_error("ERR_INVALID_SHAPE", name + " must have 1 to 8 dimensions, got " + std::to_string(rank));
  std::vector<int64_t> shape(rank);
  int64_t total = 1;
  for (uint32_t i = 0; i < rank; ++i) {
    const Napi::Value dim = array.Get(i);
    if (!dim.IsNumber()) type_error("ERR_INVALID_ARG_TYPE", name + "[" + std::to_string(i) + "] must be a number");
    const double d = dim.As<Napi::Number>().DoubleValue();
    if (!(d >= 1 && d <= static_cast<double>(kMaxDim)) || std::floor(d) != d) {
      range_error("ERR_INVALID_SHAPE", name + "[" + std::to_string(i) + "] must be an integer in [1, 2^31 - 1], got " +
                                           dim.ToString().Utf8Value());
    }
    shape[i] = static_cast<int64_t>(d);
    if (total > kMaxElements / shape[i]) range_error("ERR_SIZE_OVERFLOW", name + " " + "has too many elements (more than 2^50)");
    total *= shape[i];
  }
  if (count) *count = total;
  return shape;
}

TensorArg parse_tensor(Napi::Env env, Napi::Value value, const std::string& name) {
  if (!value.IsObject()) type_error("ERR_INVALID_ARG_TYPE", name + " must be a Tensor or DeviceTensor");
  const Napi::Object object = value.As<Napi::Object>();
  TensorArg arg;
  arg.name = name;
  arg.keep = std::make_shared<Napi::Reference<Napi::Value>>(Napi::Persistent(value));
  const Napi::Value handle = object.Get("handle");
  if (DeviceBuffer::is(env, handle)) {
    DeviceBuffer* buffer = DeviceBuffer::Unwrap(handle.As<Napi::Object>());
    if (!buffer->memory()) type_error("ERR_TENSOR_DISPOSED", name + " is a disposed DeviceTensor");
    arg.on_device = true;
    arg.dtype = buffer->dtype();
    arg.shape = buffer->shape();
    arg.count = product(arg.shape);
    const Napi::Value view = object.Get("shape");
    if (!view.IsUndefined()) {  // a reshaped view of the buffer
      int64_t view_count = 0;
      arg.shape = parse_shape(view, name + ".shape", &view_count);
      if (view_count != arg.count) {
        range_error("ERR_SHAPE_MISMATCH", name + ".shape " + shape_string(arg.shape) + " needs " + std::to_string(view_count) +
                                              " elements but the device buffer has " + std::to_string(arg.count));
      }
    }
    arg.device_memory = buffer->memory();
    use_call_device(arg.device_memory->device(), name);
    return arg;
  }
  const Napi::Value data = object.Get("data");
  if (!data.IsTypedArray()) type_error("ERR_INVALID_ARG_TYPE", name + ".data must be a Float32Array or Float64Array");
  const TypedArrayInfo typed = typed_array_info(env, data);
  if (typed.type == napi_float32_array) {
    arg.dtype = DType::Float32;
  } else if (typed.type == napi_float64_array) {
    arg.dtype = DType::Float64;
  } else {
    type_error("ERR_INVALID_ARG_TYPE", name + ".data must be a Float32Array or Float64Array");
  }
  arg.shape = parse_shape(object.Get("shape"), name + ".shape", &arg.count);
  if (static_cast<int64_t>(typed.length) != arg.count) {
    range_error("ERR_SHAPE_MISMATCH", name + ".shape " + shape_string(arg.shape) + " needs " + std::to_string(arg.count) +
                                          " elements but " + name + ".data has " + std::to_string(typed.length));
  }
  arg.host = std::make_shared<HostData>(data, typed.data, static_cast<std::size_t>(arg.count) * dtype_size(arg.dtype));
  return arg;
}

HostData::HostData(Napi::Value array, void* data, std::size_t bytes)
    : array_(Napi::Persistent(array)), data_(data), bytes_(bytes) {}

void HostData::take_copy() {
  if (copy_) return;
  copy_.reset(new (std::nothrow) uint8_t[bytes_ ? bytes_ : 1]);
  if (!copy_) throw BackendError("ERR_OUT_OF_MEMORY", "out of host memory: cannot copy " + std::to_string(bytes_) + " bytes of input");
  std::memcpy(copy_.get(), data_, bytes_);
  data_ = copy_.get();
}

void HostData::require_unchanged(Napi::Env env, const std::string& name) const {
  if (copy_) return;
  const TypedArrayInfo now = typed_array_info(env, array_.Value());
  if (now.data != data_ || now.length * element_size(now.type) < bytes_) {
    type_error("ERR_BUFFER_DETACHED", name + ".data was detached or resized while the call read its other arguments");
  }
}

TensorArg parse_rows(Napi::Env env, Napi::Value value, const std::string& name) {
  TensorArg arg = parse_tensor(env, value, name);
  if (arg.shape.size() != 2) {
    range_error("ERR_INVALID_SHAPE", name + " must have shape [B, K], got " + shape_string(arg.shape));
  }
  return arg;
}

void require_match(const TensorArg& reference, const TensorArg& other, const std::vector<int64_t>* shape) {
  if (other.on_device != reference.on_device) {
    type_error("ERR_MIXED_DEVICES", other.name + " is on the " + (other.on_device ? "device" : "host") + " but " +
                                        reference.name + " is on the " + (reference.on_device ? "device" : "host"));
  }
  if (other.dtype != reference.dtype) {
    type_error("ERR_DTYPE_MISMATCH", other.name + " is " + dtype_name(other.dtype) + " but " + reference.name + " is " +
                                         dtype_name(reference.dtype));
  }
  if (shape && other.shape != *shape) {
    range_error("ERR_SHAPE_MISMATCH", other.name + " must have shape " + shape_string(*shape) + ", got " + shape_string(other.shape));
  }
}

void require_host_allocation(int64_t count, std::size_t element_size) {
  if (count > kMaxHostElements) {
    range_error("ERR_SIZE_OVERFLOW", "the result would have " + std::to_string(count) +
                                         " elements; a typed array holds at most 2^32 - 1");
  }
  const std::size_t bytes = static_cast<std::size_t>(count) * element_size;
  if (bytes < kProbedBytes) return;
  void* probe = std::malloc(bytes);
  if (!probe) {
    throw BackendError("ERR_OUT_OF_MEMORY", "out of host memory: cannot allocate " + std::to_string(bytes) + " bytes for the result");
  }
  std::free(probe);
}

namespace {

/// What the finalizer of a pooled ArrayBuffer needs: the block's size class and the bytes reported to V8.
struct Lease {
  std::size_t capacity;
  std::size_t bytes;
};

/// Cleared when the runtime refuses external ArrayBuffers (napi_no_external_buffers_allowed: Electron's sandbox).
std::atomic<bool> external_buffers_allowed{true};

/// Runs on the JS thread of the environment that made the array after V8 collected it, or when that environment
/// is torn down (a worker_thread exiting: Node calls the finalizers of the external buffers still alive).
void return_block(napi_env env, void* data, void* hint) {
  const Lease* lease = static_cast<const Lease*>(hint);
  HostPool::instance().release(data, lease->capacity);
  int64_t ignored = 0;
  napi_adjust_external_memory(env, -static_cast<int64_t>(lease->bytes), &ignored);
  delete lease;
}

/// A typed array over a pooled block, or an empty value when the pool declines or external buffers are refused.
Napi::Value pooled_array(Napi::Env env, napi_typedarray_type type, std::size_t count, std::size_t bytes, Fill fill,
                         void** data) {
  if (bytes < kPooledBytes || !external_buffers_allowed.load(std::memory_order_relaxed)) return Napi::Value();
  std::size_t capacity = 0;
  bool reused = false;
  void* block = HostPool::instance().acquire(bytes, &capacity, &reused);
  if (!block) return Napi::Value();
  if (reused && fill == Fill::Zero) std::memset(block, 0, bytes);
  Lease* lease = new Lease{capacity, bytes};
  napi_value buffer = nullptr;
  if (napi_create_external_arraybuffer(env, block, bytes, return_block, lease, &buffer) != napi_ok) {
    delete lease;
    HostPool::instance().release(block, capacity);
    external_buffers_allowed.store(false, std::memory_order_relaxed);
    return Napi::Value();
  }
  // From here the finalizer owns the lease. V8 counts no external buffer's bytes itself: tell it, so that results
  // that hold 100+ MB make it collect them (and give the blocks back) as soon as it would collect its own arrays.
  int64_t ignored = 0;
  napi_adjust_external_memory(env, static_cast<int64_t>(bytes), &ignored);
  napi_value array = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, type, count, buffer, 0, &array), Napi::Value());
  *data = block;
  return Napi::Value(env, array);
}

/// A new host typed array of `count` elements: pooled when large, else V8's (zero-filled).
Napi::Value host_array(Napi::Env env, napi_typedarray_type type, int64_t count, std::size_t element, Fill fill, void** data) {
  require_host_allocation(count, element);
  const std::size_t n = static_cast<std::size_t>(count);
  Napi::Value pooled = pooled_array(env, type, n, n * element, fill, data);
  if (!pooled.IsEmpty()) return pooled;
  if (type == napi_float32_array) {
    Napi::Float32Array array = Napi::Float32Array::New(env, n);
    *data = array.Data();
    return array;
  }
  if (type == napi_float64_array) {
    Napi::Float64Array array = Napi::Float64Array::New(env, n);
    *data = array.Data();
    return array;
  }
  Napi::Int32Array array = Napi::Int32Array::New(env, n);
  *data = array.Data();
  return array;
}

/// Whether a typed array's memory is a SharedArrayBuffer's (which JS cannot detach).
bool is_shared(Napi::Env env, Napi::Value typed_array) {
  napi_value buffer = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, typed_array, nullptr, nullptr, nullptr, &buffer, nullptr), false);
  bool plain = false;
  NAPI_THROW_IF_FAILED(env, napi_is_arraybuffer(env, buffer, &plain), false);
  return !plain;
}

/// Where a tensor argument's elements are, for overlap checks: [begin, end) in host or device memory.
struct Extent {
  bool on_device;
  const uint8_t* begin;
  const uint8_t* end;
};

Extent extent_of(const TensorArg& arg) {
  const uint8_t* begin = static_cast<const uint8_t*>(arg.data());
  if (arg.on_device) return {true, begin, begin + arg.device_memory->bytes()};
  return {false, begin, begin + static_cast<std::size_t>(arg.count) * dtype_size(arg.dtype)};
}

bool overlap(const Extent& a, const Extent& b) { return a.on_device == b.on_device && a.begin < b.end && b.begin < a.end; }

}  // namespace

Output make_output(Napi::Env env, DType dtype, const std::vector<int64_t>& shape, bool on_device, Fill fill) {
  Output out;
  const int64_t count = product(shape);
  if (on_device) {
    Napi::Object buffer = DeviceBuffer::create(env, dtype, shape);
    out.device_memory = DeviceBuffer::Unwrap(buffer)->memory();
    out.data = out.device_memory->data();
    out.value = buffer;
  } else {
    const napi_typedarray_type type = dtype == DType::Float32 ? napi_float32_array : napi_float64_array;
    out.value = host_array(env, type, count, dtype_size(dtype), fill, &out.data);
  }
  out.keep = std::make_shared<Napi::Reference<Napi::Value>>(Napi::Persistent(out.value));
  return out;
}

Output make_index_output(Napi::Env env, int64_t count, Fill fill) {
  Output out;
  out.value = host_array(env, napi_int32_array, count, sizeof(int32_t), fill, &out.data);
  out.keep = std::make_shared<Napi::Reference<Napi::Value>>(Napi::Persistent(out.value));
  return out;
}

void Output::commit(Napi::Env env) const {
  if (!staging) return;
  target->require_unchanged(env, name);
  std::memcpy(target->data(), staging->data(), bytes);
}

OutArgs::OutArgs(Napi::Env env, Napi::Value value, bool async, std::string single_key)
    : env_(env), value_(value), async_(async), single_(false), single_key_(std::move(single_key)) {
  if (value.IsUndefined() || value.IsNull()) return;
  if (!value.IsObject()) type_error("ERR_INVALID_ARG_TYPE", "out must be a Tensor, a DeviceTensor or an object of them");
  const Napi::Object object = value.As<Napi::Object>();
  single_ = object.Has("shape");
}

Napi::Value OutArgs::given(const std::string& key, std::string* name) const {
  if (value_.IsUndefined() || value_.IsNull()) return Napi::Value();
  if (single_) {
    *name = "out";
    return key == single_key_ ? value_ : Napi::Value();
  }
  *name = "out." + key;
  const Napi::Value tensor = value_.As<Napi::Object>().Get(key);
  return tensor.IsUndefined() ? Napi::Value() : tensor;
}

Output OutArgs::make(Napi::Env env, const std::string& key, DType dtype, const std::vector<int64_t>& shape, bool on_device,
                     Fill fill) {
  std::string name;
  const Napi::Value value = given(key, &name);
  if (value.IsEmpty()) return make_output(env, dtype, shape, on_device, fill);
  TensorArg arg = parse_tensor(env, value, name);
  if (arg.on_device != on_device) {
    type_error("ERR_MIXED_DEVICES", name + " is on the " + (arg.on_device ? "device" : "host") + " but the result is on the " +
                                        (on_device ? "device" : "host"));
  }
  if (arg.dtype != dtype) {
    type_error("ERR_DTYPE_MISMATCH", name + " is " + dtype_name(arg.dtype) + " but the result is " + dtype_name(dtype));
  }
  if (arg.shape != shape) {
    range_error("ERR_SHAPE_MISMATCH", name + " must have the result's shape " + shape_string(shape) + ", got " + shape_string(arg.shape));
  }
  Output out;
  out.name = name;
  out.bytes = static_cast<std::size_t>(arg.count) * dtype_size(dtype);
  const Napi::Object object = value.As<Napi::Object>();
  out.value = object.Get(on_device ? "handle" : "data");
  out.keep = std::make_shared<Napi::Reference<Napi::Value>>(Napi::Persistent(out.value));
  if (on_device) {
    out.device_memory = arg.device_memory;
    out.data = arg.data();
  } else {
    out.target = arg.host;
    if (async_ && !is_shared(env, out.value)) {
      out.staging = std::make_shared<HostBlock>(out.bytes);  // zero-filled
      out.data = out.staging->data();
    } else {
      out.data = arg.host->data();
      if (fill == Fill::Zero) std::memset(out.data, 0, out.bytes);
    }
  }
  taken_.push_back(std::move(arg));
  return out;
}

void OutArgs::require_disjoint(const std::vector<const TensorArg*>& inputs) const {
  for (size_t i = 0; i < taken_.size(); ++i) {
    const Extent mine = extent_of(taken_[i]);
    for (const TensorArg* input : inputs) {
      if (input && input->data() && overlap(mine, extent_of(*input))) {
        range_error("ERR_OUT_ALIASES_INPUT", taken_[i].name + " shares memory with the input " + input->name +
                                                 ": the result cannot be written over an input");
      }
    }
    for (size_t j = 0; j < i; ++j) {
      if (overlap(mine, extent_of(taken_[j]))) {
        range_error("ERR_OUT_ALIASES_INPUT", taken_[i].name + " shares memory with " + taken_[j].name);
      }
    }
  }
}

Napi::Object host_pool_stats(Napi::Env env) {
  const HostPoolStats s = HostPool::instance().stats();
  Napi::Object result = Napi::Object::New(env);
  result.Set("limit", static_cast<double>(s.limit));
  result.Set("idleBytes", static_cast<double>(s.idle_bytes));
  result.Set("idleBlocks", static_cast<double>(s.idle_blocks));
  result.Set("lentBytes", static_cast<double>(s.lent_bytes));
  result.Set("lentBlocks", static_cast<double>(s.lent_blocks));
  result.Set("reused", static_cast<double>(s.reused));
  result.Set("allocated", static_cast<double>(s.allocated));
  result.Set("declined", static_cast<double>(s.declined));
  result.Set("externalBuffers", external_buffers_allowed.load());
  return result;
}

uint64_t parse_seed(Napi::Value value, const std::string& name) {
  if (value.IsBigInt()) {
    bool lossless = false;
    const uint64_t seed = value.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) range_error("ERR_OUT_OF_RANGE", name + " must be a bigint in [0, 2^64 - 1]");
    return seed;
  }
  if (!value.IsNumber()) type_error("ERR_INVALID_ARG_TYPE", name + " must be a non-negative integer (number or bigint)");
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 9007199254740991.0) || std::floor(d) != d) {
    range_error("ERR_OUT_OF_RANGE", name + " must be an integer in [0, 2^53 - 1], got " + value.ToString().Utf8Value());
  }
  return static_cast<uint64_t>(d);
}

double parse_number(Napi::Value value, const std::string& name) {
  if (!value.IsNumber()) type_error("ERR_INVALID_ARG_TYPE", name + " must be a number");
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) range_error("ERR_OUT_OF_RANGE", name + " must be finite, got " + value.ToString().Utf8Value());
  return d;
}

int64_t parse_integer(Napi::Value value, const std::string& name, int64_t low, int64_t high) {
  if (!value.IsNumber()) type_error("ERR_INVALID_ARG_TYPE", name + " must be an integer");
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(low) && d <= static_cast<double>(high)) || std::floor(d) != d) {
    range_error("ERR_OUT_OF_RANGE", name + " must be an integer in [" + std::to_string(low) + ", " + std::to_string(high) +
                                        "], got " + value.ToString().Utf8Value());
  }
  return static_cast<int64_t>(d);
}

bool parse_async(const Napi::CallbackInfo& info, size_t index) {
  return info.Length() > index && info[index].ToBoolean().Value();
}

// ---- DeviceBuffer -------------------------------------------------------------------------------------

Napi::Function DeviceBuffer::define(Napi::Env env) {
  Napi::Function constructor = DefineClass(
      env, "DeviceBuffer",
      {StaticMethod("fromHost", &DeviceBuffer::from_host), InstanceMethod("toHost", &DeviceBuffer::to_host),
       InstanceMethod("dispose", &DeviceBuffer::dispose), InstanceAccessor("dtype", &DeviceBuffer::get_dtype, nullptr),
       InstanceAccessor("shape", &DeviceBuffer::get_shape, nullptr),
       InstanceAccessor("disposed", &DeviceBuffer::get_disposed, nullptr),
       InstanceAccessor("bytes", &DeviceBuffer::get_bytes, nullptr),
       InstanceAccessor("device", &DeviceBuffer::get_device, nullptr)});
  AddonData* data = new AddonData();
  data->device_buffer = Napi::Persistent(constructor);
  env.SetInstanceData<AddonData>(data);
  return constructor;
}

bool DeviceBuffer::is(Napi::Env env, Napi::Value value) {
  if (!value.IsObject()) return false;
  AddonData* data = env.GetInstanceData<AddonData>();
  if (!value.As<Napi::Object>().InstanceOf(data->device_buffer.Value())) return false;
  void* wrapped = nullptr;  // an object made from DeviceBuffer.prototype without the constructor wraps nothing
  return napi_unwrap(env, value, &wrapped) == napi_ok && wrapped != nullptr;
}

Napi::Object DeviceBuffer::create(Napi::Env env, DType dtype, const std::vector<int64_t>& shape) {
  NewBuffer request{dtype, shape};
  AddonData* data = env.GetInstanceData<AddonData>();
  return data->device_buffer.New({Napi::External<NewBuffer>::New(env, &request)});
}

DeviceBuffer::DeviceBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceBuffer>(info) {
  guarded(info.Env(), [&]() -> Napi::Value {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      type_error("ERR_ILLEGAL_CONSTRUCTOR", "DeviceBuffer cannot be constructed directly: use tensor.toDevice()");
    }
    const NewBuffer* request = info[0].As<Napi::External<NewBuffer>>().Data();
    dtype_ = request->dtype;
    shape_ = request->shape;
    const std::size_t bytes = static_cast<std::size_t>(product(shape_)) * dtype_size(dtype_);
    memory_ = std::make_shared<DeviceMemory>(bytes);
    device_ = memory_->device();
    reported_bytes_ = static_cast<int64_t>(bytes);
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), reported_bytes_);
    return info.Env().Undefined();
  });
}

void DeviceBuffer::release(Napi::Env env) {
  memory_.reset();
  if (reported_bytes_) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -reported_bytes_);
    reported_bytes_ = 0;
  }
}

void DeviceBuffer::Finalize(Napi::Env env) { release(env); }

Napi::Value DeviceBuffer::from_host(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Object host = Napi::Object::New(info.Env());
    host.Set("data", info[0]);
    host.Set("shape", info[1]);
    const TensorArg source = parse_tensor(info.Env(), host, "tensor");
    use_call_device(parse_device_index(info[2], "device"), "device");
    Napi::Object buffer = create(info.Env(), source.dtype, source.shape);
#if LS_WITH_CUDA
    cuda::copy_to_device(Unwrap(buffer)->memory()->data(), source.data(),
                         static_cast<std::size_t>(source.count) * dtype_size(source.dtype));
#endif
    return buffer;
  });
}

Napi::Value DeviceBuffer::to_host(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (!memory_) type_error("ERR_TENSOR_DISPOSED", "this DeviceTensor was disposed");
    Output out = make_output(info.Env(), dtype_, shape_, false, Fill::Overwritten);
#if LS_WITH_CUDA
    cuda::DeviceScope scope(memory_->device());
    cuda::copy_to_host(out.data, memory_->data(), memory_->bytes());
#endif
    return out.value;
  });
}

Napi::Value DeviceBuffer::dispose(const Napi::CallbackInfo& info) {
  release(info.Env());
  return info.Env().Undefined();
}

Napi::Value DeviceBuffer::get_dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dtype_name(dtype_));
}

Napi::Value DeviceBuffer::get_shape(const Napi::CallbackInfo& info) {
  Napi::Array array = Napi::Array::New(info.Env(), shape_.size());
  for (size_t i = 0; i < shape_.size(); ++i) array.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(shape_[i])));
  return array;
}

/// The index N of the device (cuda:N) holding the memory; kept after dispose().
Napi::Value DeviceBuffer::get_device(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device_); }

Napi::Value DeviceBuffer::get_disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !memory_); }

Napi::Value DeviceBuffer::get_bytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(product(shape_) * static_cast<int64_t>(dtype_size(dtype_))));
}

}  // namespace binding
}  // namespace ls
