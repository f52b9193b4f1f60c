// Tensors at the N-API boundary: parsing and checking host tensors ({ data: Float32Array | Float64Array,
// shape }) and device tensors ({ handle: DeviceBuffer, shape }), and making outputs where the inputs live.
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "latent_struct/common.h"

namespace ls {
namespace binding {

/// Device memory owned by shared pointers, so an async job keeps a buffer alive past dispose().
class DeviceMemory {
 public:
  explicit DeviceMemory(std::size_t bytes);
  ~DeviceMemory();
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  /// The CUDA device it lives on (cuda:N): the calling thread's device when it was allocated.
  int device() const { return device_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  int device_ = 0;
};

/// Makes `device` the device of the op call (CallDevice) and of the calling thread. Raises TypeError
/// ERR_MIXED_DEVICES when the call already runs on another device (naming `name` and the argument that chose it),
/// Error ERR_NO_CUDA without a usable CUDA backend, RangeError ERR_NO_DEVICE for an index that does not exist.
void use_call_device(int device, const std::string& name);
/// Reads an optional device index argument: undefined → the call's device when one is set, else 0; otherwise an
/// integer in [0, 63] (RangeError ERR_OUT_OF_RANGE).
int parse_device_index(Napi::Value value, const std::string& name);

/// The native side of DeviceTensor: GPU memory, its dtype and shape.
class DeviceBuffer : public Napi::ObjectWrap<DeviceBuffer> {
 public:
  static Napi::Function define(Napi::Env env);
  /// A new JS DeviceBuffer over fresh device memory.
  static Napi::Object create(Napi::Env env, DType dtype, const std::vector<int64_t>& shape);
  static bool is(Napi::Env env, Napi::Value value);

  explicit DeviceBuffer(const Napi::CallbackInfo& info);
  void Finalize(Napi::Env env) override;

  std::shared_ptr<DeviceMemory> memory() const { return memory_; }
  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }

 private:
  static Napi::Value from_host(const Napi::CallbackInfo& info);
  Napi::Value to_host(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value get_dtype(const Napi::CallbackInfo& info);
  Napi::Value get_shape(const Napi::CallbackInfo& info);
  Napi::Value get_disposed(const Napi::CallbackInfo& info);
  Napi::Value get_bytes(const Napi::CallbackInfo& info);
  Napi::Value get_device(const Napi::CallbackInfo& info);
  void release(Napi::Env env);

  std::shared_ptr<DeviceMemory> memory_;
  DType dtype_ = DType::Float32;
  std::vector<int64_t> shape_;
  int64_t reported_bytes_ = 0;
  int device_ = 0;
};

/// The elements a host tensor argument reads: at first the JS typed array's own. JS code may detach, shrink or
/// overwrite that buffer whenever it runs, so an async job reads a private copy taken when it is queued
/// (take_copy), and a sync job checks that the buffer is still the one parsed right before it runs
/// (require_unchanged), since a getter read after the parse may have detached it.
class HostData {
 public:
  HostData(Napi::Value array, void* data, std::size_t bytes);
  void* data() const { return data_; }
  /// Copies the elements into memory this object owns and reads those from now on (main thread).
  void take_copy();
  /// Raises ERR_BUFFER_DETACHED when the typed array no longer has these elements (main thread).
  void require_unchanged(Napi::Env env, const std::string& name) const;

 private:
  Napi::Reference<Napi::Value> array_;
  void* data_;
  std::size_t bytes_;
  std::unique_ptr<uint8_t[]> copy_;
};

/// A checked tensor argument, host or device.
struct TensorArg {
  std::string name;
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;
  int64_t count = 0;
  bool on_device = false;
  std::shared_ptr<HostData> host;               // host tensors: where the elements are read
  std::shared_ptr<DeviceMemory> device_memory;  // device tensors: keeps device data alive
  std::shared_ptr<Napi::Reference<Napi::Value>> keep;  // keeps the JS object alive (async)
  /// The elements, host or device (nullptr for an argument never parsed).
  void* data() const { return on_device ? device_memory->data() : host ? host->data() : nullptr; }
  RowShape rows() const { return {shape[0], shape[1]}; }
};

/// Parses `value` as a float tensor argument named `name` (message and code name it on failure).
TensorArg parse_tensor(Napi::Env env, Napi::Value value, const std::string& name);
/// Like parse_tensor, and requires rank 2 ([B, K]).
TensorArg parse_rows(Napi::Env env, Napi::Value value, const std::string& name);
/// Checks that `other` has `reference`'s dtype, device and (when given) shape.
void require_match(const TensorArg& reference, const TensorArg& other, const std::vector<int64_t>* shape);
/// Checks a shape: 1..8 positive integer dims whose product (and byte size) does not overflow.
std::vector<int64_t> parse_shape(Napi::Value value, const std::string& name, int64_t* count);
std::string shape_string(const std::vector<int64_t>& shape);

/// Whether the kernels of an op write every element of a result (Overwritten: a recycled block or a caller's `out`
/// is used as it is) or only some (Zero: the rest must read zero, as in a fresh typed array).
enum class Fill { Zero, Overwritten };

class HostBlock;

/// An output tensor made before a job runs: the JS value to return and where kernels write. `value` is a
/// local handle, valid only in the call that made it; js() is valid later too (async completion).
struct Output {
  Napi::Value js() const { return keep->Value(); }
  Napi::Value value;
  void* data = nullptr;
  std::shared_ptr<DeviceMemory> device_memory;
  std::shared_ptr<Napi::Reference<Napi::Value>> keep;
  /// A caller's host `out` array: a sync job writes it in place (checked unchanged right before it runs); an async
  /// job writes `staging` and commit() copies that into it when the job settles (a SharedArrayBuffer is written
  /// in place: it cannot be detached).
  std::shared_ptr<HostData> target;
  std::shared_ptr<HostBlock> staging;
  std::string name;
  std::size_t bytes = 0;
  /// Copies the staging block into the caller's array (main thread, after compute; a no-op without staging).
  void commit(Napi::Env env) const;
};
/// A new float tensor of `shape` on the host (a typed array; large ones over pooled memory, host_pool.h) or the
/// device (a DeviceBuffer).
Output make_output(Napi::Env env, DType dtype, const std::vector<int64_t>& shape, bool on_device, Fill fill = Fill::Zero);
/// A new Int32Array of `count` elements on the host.
Output make_index_output(Napi::Env env, int64_t count, Fill fill = Fill::Zero);
/// Raises ERR_SIZE_OVERFLOW when `count` elements exceed what a typed array can hold, or ERR_OUT_OF_MEMORY when
/// the host cannot allocate them: V8 aborts the process on either instead of throwing.
void require_host_allocation(int64_t count, std::size_t element_size);

/// The caller's `out` argument of an op: undefined (every result is new), one tensor (the op's result named
/// `single_key`, called "out" in messages), or an object of tensors by result name ("out.<name>"). Tensors are
/// { data, shape } or { handle, shape } as for inputs. Lives for the op call only.
class OutArgs {
 public:
  OutArgs(Napi::Env env, Napi::Value value, bool async, std::string single_key);
  /// The result `key`: the caller's tensor when one is given (ERR_MIXED_DEVICES, ERR_DTYPE_MISMATCH or
  /// ERR_SHAPE_MISMATCH when it does not match the result), else make_output's.
  Output make(Napi::Env env, const std::string& key, DType dtype, const std::vector<int64_t>& shape, bool on_device,
              Fill fill);
  /// Raises ERR_OUT_ALIASES_INPUT when a given out shares memory with one of `inputs` or with another out.
  void require_disjoint(const std::vector<const TensorArg*>& inputs) const;

 private:
  Napi::Value given(const std::string& key, std::string* name) const;
  Napi::Env env_;
  Napi::Value value_;
  bool async_;
  bool single_;
  std::string single_key_;
  std::vector<TensorArg> taken_;
};

/// The host pool's state, for tests and the bench: { limit, idleBytes, idleBlocks, lentBytes, lentBlocks, reused,
/// allocated, declined }.
Napi::Object host_pool_stats(Napi::Env env);

/// Reads a non-negative integer seed (number up to 2^53 - 1, or bigint up to 2^64 - 1).
uint64_t parse_seed(Napi::Value value, const std::string& name);
/// Reads a finite number; with `positive`, requires > 0.
double parse_number(Napi::Value value, const std::string& name);
/// Reads an integer in [low, high].
int64_t parse_integer(Napi::Value value, const std::string& name, int64_t low, int64_t high);
bool parse_async(const Napi::CallbackInfo& info, size_t index);

}  // namespace binding
}  // namespace ls
