// N-API entry points of the categorical building blocks ([B, K] rows). Each checks its arguments on the
// main thread, makes its outputs where its inputs live, and runs its kernels as a Job (sync or async).
#include <napi.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "checks.h"
#include "dispatch.h"
#include "job.h"
#include "latent_struct/categorical.h"
#include "latent_struct/categorical_topk.h"
#include "latent_struct/philox.h"
#include "ops.h"
#include "scratch.h"

namespace ls {
namespace binding {
namespace {

/// A job that maps scores [B, K] to an output of `out_shape` with kernel(T(), scores, output).
template <typename Kernel>
Napi::Value scores_op(const Napi::CallbackInfo& info, const TensorArg& scores, std::vector<int64_t> out_shape,
                      bool async, Kernel kernel) {
  Napi::Env env = info.Env();
  Output result = make_output(env, scores.dtype, out_shape, scores.on_device);
  Job job;
  job.hold(scores);
  job.hold(result);
  job.compute = [scores, result, kernel]() {
    check_scores(scores);
    for_dtype(scores.dtype, [&](auto tag) { kernel(tag, scores, result); });
  };
  job.finish = [result](Napi::Env) { return result.js(); };
  return run_job(env, std::move(job), async);
}

Napi::Value logsumexp_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const TensorArg scores = parse_rows(info.Env(), info[0], "scores");
    return scores_op(info, scores, {scores.shape[0]}, parse_async(info, 1), [](auto tag, const TensorArg& x, const Output& o) {
      using T = decltype(tag);
      LS_CALL(x.on_device, logsumexp<T>, in<T>(x), out<T>(o), x.rows());
    });
  });
}

Napi::Value entropy_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const TensorArg scores = parse_rows(info.Env(), info[0], "scores");
    return scores_op(info, scores, {scores.shape[0]}, parse_async(info, 1), [](auto tag, const TensorArg& x, const Output& o) {
      using T = decltype(tag);
      LS_CALL(x.on_device, entropy<T>, in<T>(x), out<T>(o), x.rows());
    });
  });
}

Napi::Value softmax_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const TensorArg scores = parse_rows(info.Env(), info[0], "scores");
    return scores_op(info, scores, scores.shape, parse_async(info, 1), [](auto tag, const TensorArg& x, const Output& o) {
      using T = decltype(tag);
      LS_CALL(x.on_device, softmax<T>, in<T>(x), out<T>(o), x.rows());
    });
  });
}

Napi::Value sparsemax_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const TensorArg scores = parse_rows(info.Env(), info[0], "scores");
    return scores_op(info, scores, scores.shape, parse_async(info, 1), [](auto tag, const TensorArg& x, const Output& o) {
      using T = decltype(tag);
      LS_CALL(x.on_device, sparsemax<T>, in<T>(x), out<T>(o), x.rows());
    });
  });
}

Napi::Value entmax15_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const TensorArg scores = parse_rows(info.Env(), info[0], "scores");
    return scores_op(info, scores, scores.shape, parse_async(info, 1), [](auto tag, const TensorArg& x, const Output& o) {
      using T = decltype(tag);
      LS_CALL(x.on_device, entmax15<T>, in<T>(x), out<T>(o), x.rows());
    });
  });
}

double parse_alpha(Napi::Value value) {
  const double alpha = parse_number(value, "alpha");
  if (alpha < 1) range_error("ERR_OUT_OF_RANGE", "alpha must be >= 1, got " + std::to_string(alpha));
  return alpha;
}

Napi::Value entmax_bisect_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const TensorArg scores = parse_rows(info.Env(), info[0], "scores");
    const double alpha = parse_alpha(info[1]);
    return scores_op(info, scores, scores.shape, parse_async(info, 2), [alpha](auto tag, const TensorArg& x, const Output& o) {
      using T = decltype(tag);
      LS_CALL(x.on_device, entmax_bisect<T>, in<T>(x), out<T>(o), x.rows(), alpha);
    });
  });
}

Napi::Value gumbel_softmax_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const TensorArg scores = parse_rows(info.Env(), info[0], "scores");
    const double temperature = parse_number(info[1], "temperature");
    if (temperature <= 0) range_error("ERR_OUT_OF_RANGE", "temperature must be > 0");
    const uint64_t seed = parse_seed(info[2], "seed");
    return scores_op(info, scores, scores.shape, parse_async(info, 3),
                     [temperature, seed](auto tag, const TensorArg& x, const Output& o) {
                       using T = decltype(tag);
                       LS_CALL(x.on_device, gumbel_softmax<T>, in<T>(x), out<T>(o), x.rows(), temperature, seed);
                     });
  });
}

/// Backward ops: first input (scores or probabilities) [B, K] and gradient of the output's shape.
template <typename Kernel>
Napi::Value backward_op(const Napi::CallbackInfo& info, const TensorArg& primal, bool primal_is_scores,
                        const TensorArg& grad, bool async, Kernel kernel) {
  Napi::Env env = info.Env();
  Output result = make_output(env, primal.dtype, primal.shape, primal.on_device);
  Job job;
  job.hold(primal);
  job.hold(grad);
  job.hold(result);
  job.compute = [primal, primal_is_scores, grad, result, kernel]() {
    if (primal_is_scores) {
      check_scores(primal);
    } else {
      check_finite(primal);
    }
    check_finite(grad);
    for_dtype(primal.dtype, [&](auto tag) { kernel(tag, primal, grad, result); });
  };
  job.finish = [result](Napi::Env) { return result.js(); };
  return run_job(env, std::move(job), async);
}

Napi::Value logsumexp_backward_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const TensorArg scores = parse_rows(info.Env(), info[0], "scores");
    const TensorArg grad = parse_tensor(info.Env(), info[1], "grad");
    const std::vector<int64_t> grad_shape{scores.shape[0]};
    require_match(scores, grad, &grad_shape);
    return backward_op(info, scores, true, grad, parse_async(info, 2),
                       [](auto tag, const TensorArg& x, const TensorArg& g, const Output& o) {
                         using T = decltype(tag);
                         LS_CALL(x.on_device, logsumexp_backward<T>, in<T>(x), in<T>(g), out<T>(o), x.rows());
                       });
  });
}

Napi::Value entmax_backward_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const TensorArg probs = parse_rows(info.Env(), info[0], "probs");
    const TensorArg grad = parse_tensor(info.Env(), info[1], "grad");
    require_match(probs, grad, &probs.shape);
    const double alpha = parse_alpha(info[2]);
    const double scale = parse_number(info[3], "scale");
    return backward_op(info, probs, false, grad, parse_async(info, 4),
                       [alpha, scale](auto tag, const TensorArg& p, const TensorArg& g, const Output& o) {
                         using T = decltype(tag);
                         LS_CALL(p.on_device, entmax_backward<T>, in<T>(p), in<T>(g), out<T>(o), p.rows(), alpha, scale);
                       });
  });
}

/// Indices (host Int32Array [count]) and their one-hot rows [..., K] where the scores live.
struct IndexResult {
  Output index;
  Output one_hot;
  std::shared_ptr<DeviceMemory> device_index;  // device scratch the kernels write indices into
};

IndexResult make_index_result(Napi::Env env, const TensorArg& scores, std::vector<int64_t> one_hot_shape, int64_t count) {
  IndexResult result;
  result.index = make_index_output(env, count);
  result.one_hot = make_output(env, scores.dtype, one_hot_shape, scores.on_device);
  if (scores.on_device) result.device_index = std::make_shared<DeviceMemory>(static_cast<std::size_t>(count) * sizeof(int32_t));
  return result;
}

/// Runs kernel(T(), scores, indices) writing `count` indices, then fills the one-hot output and copies the
/// indices to the host; resolves to { index, onehot }.
template <typename Kernel>
Napi::Value index_op(const Napi::CallbackInfo& info, const TensorArg& scores, std::vector<int64_t> one_hot_shape,
                     int64_t count, bool async, Kernel kernel) {
  Napi::Env env = info.Env();
  IndexResult result = make_index_result(env, scores, std::move(one_hot_shape), count);
  Job job;
  job.hold(scores);
  job.hold(result.index);
  job.hold(result.one_hot);
  if (result.device_index) job.keep_device.push_back(result.device_index);
  const int64_t cols = scores.shape[1];
  job.compute = [scores, result, kernel, count, cols]() {
    check_scores(scores);
    int32_t* index = scores.on_device ? static_cast<int32_t*>(result.device_index->data()) : out<int32_t>(result.index);
    for_dtype(scores.dtype, [&](auto tag) {
      using T = decltype(tag);
      kernel(tag, scores, index);
      LS_CALL(scores.on_device, one_hot<T>, index, out<T>(result.one_hot), count, cols);
    });
#if LS_WITH_CUDA
    if (scores.on_device) cuda::copy_to_host(result.index.data, index, static_cast<std::size_t>(count) * sizeof(int32_t));
#endif
  };
  job.finish = [result](Napi::Env env) {
    Napi::Object object = Napi::Object::New(env);
    object.Set("index", result.index.js());
    object.Set("onehot", result.one_hot.js());
    return static_cast<Napi::Value>(object);
  };
  return run_job(env, std::move(job), async);
}

Napi::Value argmax_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const TensorArg scores = parse_rows(info.Env(), info[0], "scores");
    return index_op(info, scores, scores.shape, scores.shape[0], parse_async(info, 1),
                    [](auto tag, const TensorArg& x, int32_t* index) {
                      using T = decltype(tag);
                      LS_CALL(x.on_device, argmax<T>, in<T>(x), index, x.rows());
                    });
  });
}

/// The most structures a top-k lists per row (categoricalTopk and treeTopk).
constexpr int64_t kMaxTopk = 1024;

/// categoricalTopk(scores [B, K], k, async) -> { index Int32Array [k B], score [k, B], parts [k, B, K] }: the k
/// best classes of each row (categorical_topk.h), computed where the scores live; only the k B indices cross to
/// the host.
Napi::Value topk_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg scores = parse_rows(env, info[0], "scores");
    const int64_t k = parse_integer(info[1], "k", 1, kMaxTopk);
    const int64_t B = scores.shape[0], K = scores.shape[1];
    if (k * scores.count > (int64_t(1) << 50) / 8 || k * B > std::numeric_limits<int32_t>::max()) {
      range_error("ERR_SIZE_OVERFLOW", "k x scores is too large");
    }
    const IndexOutput index = ::ls::binding::make_index_result(env, scores.on_device, k * B);
    const Output top = make_output(env, scores.dtype, {k, B}, scores.on_device);
    const Output parts = make_output(env, scores.dtype, {k, B, K}, scores.on_device);
    Job job;
    job.hold(scores);
    index.hold(job);
    job.hold(top);
    job.hold(parts);
    job.compute = [scores, index, top, parts, k]() {
      check_scores(scores);
      for_dtype(scores.dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(scores.on_device, categorical_topk<T>, in<T>(scores), scores.rows(), k, index.kernel_data(),
                out<T>(top), out<T>(parts));
      });
      index.to_host();
    };
    job.finish = [index, top, parts](Napi::Env env) {
      Napi::Object object = Napi::Object::New(env);
      object.Set("index", index.host.js());
      object.Set("score", top.js());
      object.Set("parts", parts.js());
      return static_cast<Napi::Value>(object);
    };
    return run_job(env, std::move(job), parse_async(info, 2));
  });
}

Napi::Value gumbel_max_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const TensorArg scores = parse_rows(info.Env(), info[0], "scores");
    const int64_t samples = parse_integer(info[1], "samples", 1, int64_t(1) << 31);
    const uint64_t seed = parse_seed(info[2], "seed");
    const double noise_scale = parse_number(info[3], "temperature");
    if (noise_scale <= 0) range_error("ERR_OUT_OF_RANGE", "temperature must be > 0");
    if (samples * scores.shape[0] > std::numeric_limits<int32_t>::max() ||
        samples * scores.count > (int64_t(1) << 50)) {
      range_error("ERR_SIZE_OVERFLOW", "samples x scores is too large");
    }
    return index_op(info, scores, {samples, scores.shape[0], scores.shape[1]}, samples * scores.shape[0],
                    parse_async(info, 4), [samples, seed, noise_scale](auto tag, const TensorArg& x, int32_t* index) {
                      using T = decltype(tag);
                      LS_CALL(x.on_device, gumbel_max<T>, in<T>(x), index, x.rows(), samples, seed, noise_scale);
                    });
  });
}

Napi::Value log_prob_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg scores = parse_rows(env, info[0], "scores");
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      type_error("ERR_INVALID_ARG_TYPE", "index must be an Int32Array");
    }
    const Napi::Int32Array index = info[1].As<Napi::Int32Array>();
    const int64_t rows = scores.shape[0], cols = scores.shape[1];
    if (index.ElementLength() == 0 || static_cast<int64_t>(index.ElementLength()) % rows != 0) {
      range_error("ERR_SHAPE_MISMATCH", "index must hold S x B = S x " + std::to_string(rows) + " entries, got " +
                                            std::to_string(index.ElementLength()));
    }
    const int64_t samples = static_cast<int64_t>(index.ElementLength()) / rows;
    for (size_t i = 0; i < index.ElementLength(); ++i) {
      if (index[i] < 0 || index[i] >= cols) {
        range_error("ERR_OUT_OF_RANGE", "index[" + std::to_string(i) + "] = " + std::to_string(index[i]) +
                                            " is outside [0, " + std::to_string(cols - 1) + "]");
      }
    }
    Output result = make_output(env, scores.dtype, {samples, rows}, scores.on_device);
    // A copy: JS may change or detach the array while an async job runs.
    const IndexInput classes = make_index_input(std::vector<int32_t>(index.Data(), index.Data() + index.ElementLength()), scores.on_device);
    Job job;
    job.hold(scores);
    job.hold(result);
    classes.hold(job);
    job.compute = [scores, result, classes, samples]() {
      check_scores(scores);
      classes.prepare();
      for_dtype(scores.dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(scores.on_device, log_prob<T>, in<T>(scores), classes.kernel_data(), out<T>(result), scores.rows(), samples);
      });
    };
    job.finish = [result](Napi::Env) { return result.js(); };
    return run_job(env, std::move(job), parse_async(info, 2));
  });
}

Napi::Value gumbel_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    int64_t count = 0;
    const std::vector<int64_t> shape = parse_shape(info[0], "shape", &count);
    if (!info[1].IsString()) type_error("ERR_INVALID_ARG_TYPE", "dtype must be 'float32' or 'float64'");
    const std::string dtype_text = info[1].As<Napi::String>().Utf8Value();
    if (dtype_text != "float32" && dtype_text != "float64") type_error("ERR_INVALID_ARG_TYPE", "dtype must be 'float32' or 'float64'");
    const DType dtype = dtype_text == "float32" ? DType::Float32 : DType::Float64;
    const uint64_t seed = parse_seed(info[2], "seed");
    const uint64_t stream = parse_seed(info[3], "stream");
    // onDevice: false (host), true (cuda:0) or a device index N (cuda:N).
    const bool on_device = info[4].IsNumber() || info[4].ToBoolean().Value();
    if (on_device) use_call_device(info[4].IsNumber() ? parse_device_index(info[4], "device") : 0, "device");
    Output result = make_output(env, dtype, shape, on_device);
    Job job;
    job.hold(result);
    job.compute = [result, dtype, count, seed, stream, on_device]() {
      for_dtype(dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(on_device, gumbel<T>, out<T>(result), count, seed, stream);
      });
    };
    job.finish = [result](Napi::Env) { return result.js(); };
    return run_job(env, std::move(job), parse_async(info, 5));
  });
}

/// gumbelPerturb(x, seed, stream, noiseScale, scale, async): scale (x + noiseScale G) for x of any shape, where it
/// lives, G = gumbel noise of (seed, stream) (noiseScale = 0: a plain scaling, no noise drawn).
Napi::Value gumbel_perturb_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg x = parse_tensor(env, info[0], "scores");
    const uint64_t seed = parse_seed(info[1], "seed");
    const uint64_t stream = parse_seed(info[2], "stream");
    const double noise_scale = parse_number(info[3], "noiseScale");
    const double scale = parse_number(info[4], "scale");
    Output result = make_output(env, x.dtype, x.shape, x.on_device);
    Job job;
    job.hold(x);
    job.hold(result);
    job.compute = [x, result, seed, stream, noise_scale, scale]() {
      check_potentials(x);
      for_dtype(x.dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(x.on_device, gumbel_perturb<T>, in<T>(x), out<T>(result), x.count, seed, stream, noise_scale, scale);
      });
    };
    job.finish = [result](Napi::Env) { return result.js(); };
    return run_job(env, std::move(job), parse_async(info, 5));
  });
}

/// Philox4x32-10 of one counter block, for known-answer tests: (Uint32Array(4) counter, bigint key).
Napi::Value philox_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
        info[0].As<Napi::TypedArray>().ElementLength() != 4) {
      type_error("ERR_INVALID_ARG_TYPE", "counter must be a Uint32Array of length 4");
    }
    const Napi::Uint32Array counter = info[0].As<Napi::Uint32Array>();
    const uint64_t key = parse_seed(info[1], "key");
    const Philox4 result = philox4x32_10(Philox4{{counter[0], counter[1], counter[2], counter[3]}}, key);
    Napi::Uint32Array out = Napi::Uint32Array::New(info.Env(), 4);
    for (int i = 0; i < 4; ++i) out[i] = result.v[i];
    return out;
  });
}

}  // namespace

void register_categorical_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("logsumexp", Napi::Function::New(env, logsumexp_op, "logsumexp"));
  exports.Set("logsumexpBackward", Napi::Function::New(env, logsumexp_backward_op, "logsumexpBackward"));
  exports.Set("softmax", Napi::Function::New(env, softmax_op, "softmax"));
  exports.Set("sparsemax", Napi::Function::New(env, sparsemax_op, "sparsemax"));
  exports.Set("entmax15", Napi::Function::New(env, entmax15_op, "entmax15"));
  exports.Set("entmaxBisect", Napi::Function::New(env, entmax_bisect_op, "entmaxBisect"));
  exports.Set("entmaxBackward", Napi::Function::New(env, entmax_backward_op, "entmaxBackward"));
  exports.Set("entropy", Napi::Function::New(env, entropy_op, "entropy"));
  exports.Set("logProb", Napi::Function::New(env, log_prob_op, "logProb"));
  exports.Set("argmax", Napi::Function::New(env, argmax_op, "argmax"));
  exports.Set("categoricalTopk", Napi::Function::New(env, topk_op, "categoricalTopk"));
  exports.Set("gumbel", Napi::Function::New(env, gumbel_op, "gumbel"));
  exports.Set("gumbelMax", Napi::Function::New(env, gumbel_max_op, "gumbelMax"));
  exports.Set("gumbelSoftmax", Napi::Function::New(env, gumbel_softmax_op, "gumbelSoftmax"));
  exports.Set("philox4x32", Napi::Function::New(env, philox_op, "philox4x32"));
  exports.Set("gumbelPerturb", Napi::Function::New(env, gumbel_perturb_op, "gumbelPerturb"));
}

}  // namespace binding
}  // namespace ls
