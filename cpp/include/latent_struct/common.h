// Shared types of both backends: shapes, dtypes and the errors kernels and the binding raise.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#if defined(__CUDACC__)
#define LS_HOST_DEVICE __host__ __device__
#else
#define LS_HOST_DEVICE
#endif

namespace ls {

enum class DType { Float32, Float64 };

inline const char* dtype_name(DType dtype) { return dtype == DType::Float32 ? "float32" : "float64"; }
inline std::size_t dtype_size(DType dtype) { return dtype == DType::Float32 ? 4 : 8; }

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::Float32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::Float64; };

/// A batch of rows: `rows` independent problems of `cols` entries each, row-major.
struct RowShape {
  int64_t rows;
  int64_t cols;
  int64_t size() const { return rows * cols; }
};

/// Bad input. `type_error` selects TypeError (wrong kind of value) over RangeError (bad value).
class ArgumentError : public std::runtime_error {
 public:
  ArgumentError(bool type_error, std::string code, const std::string& message)
      : std::runtime_error(message), type_error_(type_error), code_(std::move(code)) {}
  bool is_type_error() const { return type_error_; }
  const std::string& code() const { return code_; }

 private:
  bool type_error_;
  std::string code_;
};

/// A failure of a backend at run time (CUDA error, out of memory, no device).
class BackendError : public std::runtime_error {
 public:
  BackendError(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

}  // namespace ls
