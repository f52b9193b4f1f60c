#include "checks.h"

#include <cmath>
#include <limits>

#include "dispatch.h"
#include "latent_struct/categorical.h"

namespace ls {
namespace binding {

double element_at(const TensorArg& arg, int64_t index) {
  double value = 0;
  for_dtype(arg.dtype, [&](auto tag) {
    using T = decltype(tag);
    T element{};
    if (arg.on_device) {
#if LS_WITH_CUDA
      cuda::copy_to_host(&element, static_cast<const T*>(arg.data()) + index, sizeof(T));
#endif
    } else {
      element = static_cast<const T*>(arg.data())[index];
    }
    value = static_cast<double>(element);
  });
  return value;
}

std::string position(const TensorArg& arg, int64_t index) {
  std::string text;
  for (size_t d = arg.shape.size(); d-- > 0;) {
    text = "[" + std::to_string(index % arg.shape[d]) + "]" + text;
    index /= arg.shape[d];
  }
  return arg.name + text;
}

namespace {

/// Index of the first NaN or +inf of `arg` viewed as `rows`, or of the first element of a row with no
/// finite entry; -1 when none.
int64_t first_invalid(const TensorArg& arg, RowShape rows) {
  int64_t bad = -1;
  for_dtype(arg.dtype, [&](auto tag) {
    using T = decltype(tag);
    bad = LS_CALL(arg.on_device, find_invalid_scores<T>, static_cast<const T*>(arg.data()), rows);
  });
  return bad;
}

[[noreturn]] void invalid_element(const TensorArg& arg, int64_t index, double value) {
  range_error("ERR_INVALID_SCORES", position(arg, index) + " is " + (value == value ? "Infinity" : "NaN") +
                                        " (scores must be finite or -Infinity)");
}

}  // namespace

void check_scores(const TensorArg& scores) {
  const int64_t bad = first_invalid(scores, scores.rows());
  if (bad < 0) return;
  const double value = element_at(scores, bad);
  if (value == value && value != HUGE_VAL) {
    range_error("ERR_INVALID_SCORES", "row " + std::to_string(bad / scores.shape[1]) + " of " + scores.name +
                                          " has no finite entry (every entry is -Infinity)");
  }
  invalid_element(scores, bad, value);
}

/// Index of the first NaN or infinite value (or NaN or +inf with allow_negative_infinity); -1 when none.
static int64_t first_nonfinite(const TensorArg& values, bool allow_negative_infinity) {
  int64_t bad = -1;
  for_dtype(values.dtype, [&](auto tag) {
    using T = decltype(tag);
    bad = LS_CALL(values.on_device, find_nonfinite<T>, static_cast<const T*>(values.data()), values.count,
                  allow_negative_infinity);
  });
  return bad;
}

void check_potentials(const TensorArg& potentials) {
  const int64_t bad = first_nonfinite(potentials, true);
  if (bad >= 0) invalid_element(potentials, bad, element_at(potentials, bad));
}

void check_finite(const TensorArg& values) {
  const int64_t bad = first_nonfinite(values, false);
  if (bad >= 0) {
    const double value = element_at(values, bad);
    const char* name = value != value ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
    range_error("ERR_NOT_FINITE", position(values, bad) + " is " + name + " (must be finite)");
  }
}

std::vector<int32_t> parse_lengths(Napi::Value lengths, int64_t batch, int64_t length) {
  std::vector<int32_t> result;
  if (lengths.IsUndefined() || lengths.IsNull()) return result;
  if (!lengths.IsTypedArray() || lengths.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    type_error("ERR_INVALID_ARG_TYPE", "lengths must be an Int32Array");
  }
  const Napi::Int32Array array = lengths.As<Napi::Int32Array>();
  if (static_cast<int64_t>(array.ElementLength()) != batch) {
    range_error("ERR_SHAPE_MISMATCH", "lengths must hold B = " + std::to_string(batch) + " entries, got " +
                                          std::to_string(array.ElementLength()));
  }
  result.assign(array.Data(), array.Data() + batch);
  for (int64_t b = 0; b < batch; ++b) {
    if (result[b] < 1 || result[b] > length) {
      range_error("ERR_OUT_OF_RANGE", "lengths[" + std::to_string(b) + "] = " + std::to_string(result[b]) +
                                          " is outside [1, " + std::to_string(length) + "]");
    }
  }
  return result;
}

void require_finite_log_partition(const void* log_z, DType dtype, int64_t batch, bool on_device, const std::string& item,
                                  const std::string& name, const std::string& structure) {
  for_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> host(static_cast<std::size_t>(batch));
    if (on_device) {
#if LS_WITH_CUDA
      cuda::copy_to_host(host.data(), log_z, host.size() * sizeof(T));
#endif
    } else {
      const T* values = static_cast<const T*>(log_z);
      host.assign(values, values + batch);
    }
    for (int64_t b = 0; b < batch; ++b) {
      if (host[b] == -std::numeric_limits<T>::infinity()) {
        range_error("ERR_INVALID_SCORES", item + " " + std::to_string(b) + " of " + name + " has no " + structure +
                                              " with a finite score (every " + structure + " scores -Infinity)");
      }
    }
  });
}

}  // namespace binding
}  // namespace ls
