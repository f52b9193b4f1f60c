// The N-API side of SparseMAP shared by every structure's ops: the options, the outputs (marginals where the
// scores live; supports, weights and counts on the host as typed arrays), and a support given back for the
// backward pass.
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "job.h"
#include "latent_struct/sparsemap_api.h"
#include "scratch.h"
#include "tensor.h"

namespace ls {
namespace binding {

/// The most structures SparseMAP keeps in its active set (its dense algebra is cubic in it).
constexpr int64_t kMaxActive = 1024;

/// The SparseMAP solver keeps the part indices of an instance in int32 (its active set's structures as sorted part
/// lists): an instance's part count D (`formula`, e.g. "(N-1)·C²", of the scores argument `scores`) must be at most
/// 2^31 - 1. Raises RangeError ERR_SIZE_OVERFLOW naming the argument otherwise; call before any allocation.
void require_int32_parts(int64_t parts, const TensorArg& scores, const std::string& formula);

/// { maxIterations, tolerance, maxActive } (all given by the TypeScript layer), checked.
SparseMapOptions parse_sparsemap_options(Napi::Value value);

/// The results of one SparseMAP call.
struct SparseMapOutputs {
  int64_t batch = 0;
  Output marginals;
  IndexOutput support, sizes, iterations, converged;
  DoubleOutput weights;

  void hold(Job& job) const;
  /// Copies the device results to the host arrays, then requires a structure of finite score in every instance
  /// (size > 0), naming the first one without (`instance` e.g. "sentence", `scores` the argument). Runs in compute.
  void finish_compute(const std::string& instance, const std::string& scores) const;
  Napi::Value js(Napi::Env env) const;
};

/// Outputs for B instances, K structures of `decoded` entries each, marginals of `shape`.
SparseMapOutputs make_sparsemap_outputs(Napi::Env env, DType dtype, const std::vector<int64_t>& shape, bool on_device,
                                        int64_t batch, int64_t max_active, int64_t decoded);

/// A support given back for the backward pass: maxActive K, support [B, K, decoded] and sizes [B] (1..K).
struct SupportInput {
  int64_t max_active = 0;
  IndexInput rows, sizes;
  void hold(Job& job) const {
    rows.hold(job);
    sizes.hold(job);
  }
  void prepare() const {
    rows.prepare();
    sizes.prepare();
  }
};

/// Reads (maxActive, support, sizes) and checks every structure below each size with valid(b, row), which says
/// whether a decoded structure of instance b only indexes parts of that instance.
SupportInput parse_support(Napi::Value max_active, Napi::Value support, Napi::Value sizes, int64_t batch,
                           int64_t decoded, bool on_device, const std::function<bool(int64_t, const int32_t*)>& valid);

}  // namespace binding
}  // namespace ls
