// Checks of tensor contents shared by the op families: scores (finite or -inf) and finite values, with
// messages that name the argument and the position of the first bad element.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor.h"

namespace ls {
namespace binding {

/// The value of element `index` of a tensor, read back from wherever it lives.
double element_at(const TensorArg& arg, int64_t index);
/// "name[i][j]..." for flat element `index` of `arg`.
std::string position(const TensorArg& arg, int64_t index);
/// Rows [B, K] of scores: -inf allowed (masked), NaN and +inf not, and every row needs a finite entry.
void check_scores(const TensorArg& scores);
/// Potentials of any shape: finite or -inf (no NaN, no +inf).
void check_potentials(const TensorArg& potentials);
/// Gradients and probabilities must be finite.
void check_finite(const TensorArg& values);
/// Raises ERR_INVALID_SCORES naming the first item b (e.g. "sequence 3 of edges") whose log Z [B] (where the
/// scores live) is -inf: it has no `structure` with a finite score.
void require_finite_log_partition(const void* log_z, DType dtype, int64_t batch, bool on_device, const std::string& item,
                                  const std::string& name, const std::string& structure);
/// Optional lengths (undefined or null: empty, every item has length N): an Int32Array of B entries in [1, N].
std::vector<int32_t> parse_lengths(Napi::Value lengths, int64_t batch, int64_t length);

template <typename T>
const T* in(const TensorArg& arg) {
  return static_cast<const T*>(arg.data());
}
template <typename T>
T* out(const Output& output) {
  return static_cast<T*>(output.data);
}

}  // namespace binding
}  // namespace ls
