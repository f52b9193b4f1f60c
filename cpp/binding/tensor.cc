#include "tensor.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <limits>

#include "errors.h"
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
#else
  throw BackendError("ERR_NO_CUDA", no_cuda_backend_reason());
#endif
}

DeviceMemory::~DeviceMemory() {
#if LS_WITH_CUDA
  cuda::release(data_);
#endif
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

Output make_output(Napi::Env env, DType dtype, const std::vector<int64_t>& shape, bool on_device) {
  Output out;
  const int64_t count = product(shape);
  if (!on_device) require_host_allocation(count, dtype_size(dtype));
  if (on_device) {
    Napi::Object buffer = DeviceBuffer::create(env, dtype, shape);
    out.device_memory = DeviceBuffer::Unwrap(buffer)->memory();
    out.data = out.device_memory->data();
    out.value = buffer;
  } else if (dtype == DType::Float32) {
    Napi::Float32Array array = Napi::Float32Array::New(env, static_cast<size_t>(count));
    out.data = array.Data();
    out.value = array;
  } else {
    Napi::Float64Array array = Napi::Float64Array::New(env, static_cast<size_t>(count));
    out.data = array.Data();
    out.value = array;
  }
  out.keep = std::make_shared<Napi::Reference<Napi::Value>>(Napi::Persistent(out.value));
  return out;
}

Output make_index_output(Napi::Env env, int64_t count) {
  Output out;
  require_host_allocation(count, sizeof(int32_t));
  Napi::Int32Array array = Napi::Int32Array::New(env, static_cast<size_t>(count));
  out.data = array.Data();
  out.value = array;
  out.keep = std::make_shared<Napi::Reference<Napi::Value>>(Napi::Persistent(out.value));
  return out;
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
       InstanceAccessor("bytes", &DeviceBuffer::get_bytes, nullptr)});
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
    Output out = make_output(info.Env(), dtype_, shape_, false);
#if LS_WITH_CUDA
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

Napi::Value DeviceBuffer::get_disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !memory_); }

Napi::Value DeviceBuffer::get_bytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(product(shape_) * static_cast<int64_t>(dtype_size(dtype_))));
}

}  // namespace binding
}  // namespace ls
