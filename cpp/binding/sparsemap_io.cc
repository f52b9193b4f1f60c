// The N-API side of SparseMAP shared by the structures' ops (sparsemap_io.h).
#include "sparsemap_io.h"

#include <limits>

#include "errors.h"
#include "latent_struct/common.h"

namespace ls {
namespace binding {
namespace {

/// Reads an Int32Array argument of exactly `count` entries (a copy).
std::vector<int32_t> parse_int32s(Napi::Value value, const std::string& name, int64_t count) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    type_error("ERR_INVALID_ARG_TYPE", name + " must be an Int32Array");
  }
  const Napi::Int32Array array = value.As<Napi::Int32Array>();
  if (static_cast<int64_t>(array.ElementLength()) != count) {
    range_error("ERR_SHAPE_MISMATCH", name + " must hold " + std::to_string(count) + " entries, got " +
                                          std::to_string(array.ElementLength()));
  }
  return std::vector<int32_t>(array.Data(), array.Data() + count);
}

}  // namespace

void require_int32_parts(int64_t parts, const TensorArg& scores, const std::string& formula) {
  if (parts <= std::numeric_limits<int32_t>::max()) return;
  range_error("ERR_SIZE_OVERFLOW", scores.name + " " + shape_string(scores.shape) + " has " + formula + " = " +
                                       std::to_string(parts) + " parts per instance; SparseMAP indexes parts in int32 "
                                       "and supports at most 2^31 - 1 = " +
                                       std::to_string(std::numeric_limits<int32_t>::max()));
}

SparseMapOptions parse_sparsemap_options(Napi::Value value) {
  if (!value.IsObject()) type_error("ERR_INVALID_ARG_TYPE", "options must be an object");
  const Napi::Object options = value.As<Napi::Object>();
  SparseMapOptions o;
  o.max_iterations = parse_integer(options.Get("maxIterations"), "maxIterations", 1, std::numeric_limits<int32_t>::max());
  o.tolerance = parse_number(options.Get("tolerance"), "tolerance");
  if (!(o.tolerance > 0)) range_error("ERR_OUT_OF_RANGE", "tolerance must be positive, got " + std::to_string(o.tolerance));
  o.max_active = parse_integer(options.Get("maxActive"), "maxActive", 1, kMaxActive);
  return o;
}

void SparseMapOutputs::hold(Job& job) const {
  job.hold(marginals);
  for (const IndexOutput* x : {&support, &sizes, &iterations, &converged}) x->hold(job);
  weights.hold(job);
}

void SparseMapOutputs::finish_compute(const std::string& instance, const std::string& scores) const {
  for (const IndexOutput* x : {&support, &sizes, &iterations, &converged}) x->to_host();
  weights.to_host();
  const int32_t* size = static_cast<const int32_t*>(sizes.host.data);
  for (int64_t b = 0; b < batch; ++b) {
    if (size[b] == 0) {
      throw ArgumentError(false, "ERR_INVALID_SCORES",
                          scores + ": " + instance + " " + std::to_string(b) + " has no structure of finite score");
    }
  }
}

Napi::Value SparseMapOutputs::js(Napi::Env env) const {
  Napi::Object result = Napi::Object::New(env);
  result.Set("marginals", marginals.js());
  result.Set("support", support.host.js());
  result.Set("weights", weights.host.js());
  result.Set("sizes", sizes.host.js());
  result.Set("iterations", iterations.host.js());
  result.Set("converged", converged.host.js());
  return result;
}

SparseMapOutputs make_sparsemap_outputs(Napi::Env env, DType dtype, const std::vector<int64_t>& shape, bool on_device,
                                        int64_t batch, int64_t max_active, int64_t decoded) {
  SparseMapOutputs o;
  o.batch = batch;
  o.marginals = make_output(env, dtype, shape, on_device);
  o.support = make_index_result(env, on_device, batch * max_active * decoded);
  o.weights = make_double_result(env, on_device, batch * max_active);
  o.sizes = make_index_result(env, on_device, batch);
  o.iterations = make_index_result(env, on_device, batch);
  o.converged = make_index_result(env, on_device, batch);
  return o;
}

SupportInput parse_support(Napi::Value max_active, Napi::Value support, Napi::Value sizes, int64_t batch,
                           int64_t decoded, bool on_device, const std::function<bool(int64_t, const int32_t*)>& valid) {
  SupportInput input;
  input.max_active = parse_integer(max_active, "maxActive", 1, kMaxActive);
  const int64_t K = input.max_active;
  std::vector<int32_t> counts = parse_int32s(sizes, "sizes", batch);
  for (int64_t b = 0; b < batch; ++b) {
    if (counts[b] < 1 || counts[b] > K) {
      range_error("ERR_OUT_OF_RANGE", "sizes[" + std::to_string(b) + "] = " + std::to_string(counts[b]) +
                                          " is outside [1, " + std::to_string(K) + "]");
    }
  }
  std::vector<int32_t> rows = parse_int32s(support, "support", batch * K * decoded);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < counts[b]; ++i) {
      if (!valid(b, rows.data() + (b * K + i) * decoded)) {
        range_error("ERR_OUT_OF_RANGE", "support: structure " + std::to_string(i) + " of instance " + std::to_string(b) +
                                            " indexes parts outside it");
      }
    }
  }
  input.rows = make_index_input(std::move(rows), on_device);
  input.sizes = make_index_input(std::move(counts), on_device);
  return input;
}

}  // namespace binding
}  // namespace ls
