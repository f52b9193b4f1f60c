// N-API entry points of the linear-chain CRF. Each takes the potentials as { edges } or { unary, transition }
// (tensors as in the categorical ops) and `lengths` (Int32Array [B] or null), checks them on the main
// thread, makes its outputs where the potentials live, and runs the kernels as a Job (sync or async).
#include <napi.h>

#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "checks.h"
#include "dispatch.h"
#include "job.h"
#include "latent_struct/linear_chain.h"
#include "latent_struct/linear_chain_topk.h"
#include "ops.h"
#include "scratch.h"
#include "sparsemap_io.h"

namespace ls {
namespace binding {
namespace {

/// Checked potentials of a batch of chains.
struct ChainArgs {
  bool factored = false;
  TensorArg edges, unary, transition;
  ChainShape shape{};
  std::vector<int32_t> lengths;  // empty: every sequence has length N
  Scratch device_lengths;        // a device copy of lengths for device potentials

  const TensorArg& first() const { return factored ? unary : edges; }
  DType dtype() const { return first().dtype; }
  bool on_device() const { return first().on_device; }
  int64_t length_of(int64_t b) const { return lengths.empty() ? shape.length : lengths[static_cast<std::size_t>(b)]; }

  template <typename T>
  ChainPotentials<T> potentials() const {
    ChainPotentials<T> p;
    if (factored) {
      p.unary = in<T>(unary);
      p.transition = in<T>(transition);
      p.shared_transition = transition.shape.size() == 2;
    } else {
      p.edges = in<T>(edges);
    }
    p.lengths = kernel_lengths();
    return p;
  }
  const int32_t* kernel_lengths() const {
    if (lengths.empty()) return nullptr;
    return on_device() ? device_lengths.as<const int32_t>() : lengths.data();
  }
  void hold(Job& job) const {
    job.hold(first());
    if (factored) job.hold(transition);
    device_lengths.hold(job);
  }
  /// NaN and +inf potentials are errors (-inf masks parts); copies lengths to the device. Runs in compute.
  void prepare() const {
    check_potentials(first());
    if (factored) check_potentials(transition);
#if LS_WITH_CUDA
    if (device_lengths.device) {
      cuda::copy_to_device(device_lengths.data, lengths.data(), lengths.size() * sizeof(int32_t));
    }
#endif
  }
};

std::string dims(const std::vector<int64_t>& shape) { return shape_string(shape); }

ChainArgs parse_chain(Napi::Env env, Napi::Value potentials, Napi::Value lengths) {
  if (!potentials.IsObject()) {
    type_error("ERR_INVALID_ARG_TYPE", "potentials must be { edges } or { unary, transition }");
  }
  const Napi::Object object = potentials.As<Napi::Object>();
  ChainArgs args;
  if (object.Has("edges") && !object.Get("edges").IsUndefined()) {
    args.edges = parse_tensor(env, object.Get("edges"), "edges");
    const std::vector<int64_t>& s = args.edges.shape;
    if (s.size() != 4 || s[2] != s[3]) {
      range_error("ERR_INVALID_SHAPE", "edges must have shape [B, N-1, C, C], got " + dims(s));
    }
    args.shape = ChainShape{s[0], s[1] + 1, s[2]};
  } else if (object.Has("unary") && !object.Get("unary").IsUndefined()) {
    args.factored = true;
    args.unary = parse_tensor(env, object.Get("unary"), "unary");
    const std::vector<int64_t>& s = args.unary.shape;
    if (s.size() != 3) range_error("ERR_INVALID_SHAPE", "unary must have shape [B, N, C], got " + dims(s));
    args.shape = ChainShape{s[0], s[1], s[2]};
    args.transition = parse_tensor(env, object.Get("transition"), "transition");
    const std::vector<int64_t>& t = args.transition.shape;
    const bool shared = t.size() == 2 && t[0] == s[2] && t[1] == s[2];
    const bool batched = t.size() == 3 && t[0] == s[0] && t[1] == s[2] && t[2] == s[2];
    if (!shared && !batched) {
      range_error("ERR_SHAPE_MISMATCH", "transition must have shape [C, C] or [B, C, C] = [" + std::to_string(s[2]) +
                                            ", " + std::to_string(s[2]) + "] or [" + std::to_string(s[0]) + ", " +
                                            std::to_string(s[2]) + ", " + std::to_string(s[2]) + "], got " + dims(t));
    }
    require_match(args.unary, args.transition, nullptr);
  } else {
    type_error("ERR_INVALID_ARG_TYPE", "potentials must be { edges } or { unary, transition }");
  }
  const int64_t B = args.shape.batch, N = args.shape.length;
  if (N > std::numeric_limits<int32_t>::max()) range_error("ERR_SIZE_OVERFLOW", "sequences are too long");
  args.lengths = parse_lengths(lengths, B, N);
  args.device_lengths = device_lengths_for(args.on_device(), args.lengths);
  return args;
}

/// Tensors over the parts of `rows` sequences (leading dims `lead` + [B]) for the requested part kinds.
struct PartsOutput {
  Output edges, unary, transition;
  bool has_edges = false, has_unary = false, has_transition = false;

  template <typename T>
  ChainParts<T> parts() const {
    ChainParts<T> p;
    if (has_edges) p.edges = out<T>(edges);
    if (has_unary) p.unary = out<T>(unary);
    if (has_transition) p.transition = out<T>(transition);
    return p;
  }
  void hold(Job& job) const {
    if (has_edges) job.hold(edges);
    if (has_unary) job.hold(unary);
    if (has_transition) job.hold(transition);
  }
  void set(Napi::Object& object) const {
    if (has_edges) object.Set("edges", edges.js());
    if (has_unary) object.Set("unary", unary.js());
    if (has_transition) object.Set("transition", transition.js());
  }
};

std::vector<int64_t> with_lead(const std::vector<int64_t>& lead, std::vector<int64_t> dims) {
  std::vector<int64_t> shape(lead);
  shape.insert(shape.end(), dims.begin(), dims.end());
  return shape;
}

/// With `outs`, the caller's tensors where given (the kernels write every element of these parts: Fill::Overwritten).
PartsOutput make_parts(Napi::Env env, const ChainArgs& args, const std::vector<int64_t>& lead, bool edges, bool unary,
                       bool transition, OutArgs* outs = nullptr) {
  const int64_t B = args.shape.batch, N = args.shape.length, C = args.shape.labels;
  const auto make = [&](const char* key, const std::vector<int64_t>& shape) {
    return outs ? outs->make(env, key, args.dtype(), shape, args.on_device(), Fill::Overwritten)
                : make_output(env, args.dtype(), shape, args.on_device());
  };
  PartsOutput result;
  result.has_edges = edges;
  result.has_unary = unary;
  result.has_transition = transition;
  if (edges) result.edges = make("edges", with_lead(lead, {B, N - 1, C, C}));
  if (unary) result.unary = make("unary", with_lead(lead, {B, N, C}));
  if (transition) result.transition = make("transition", with_lead(lead, {B, C, C}));
  if (outs) outs->require_disjoint({&args.edges, &args.unary, &args.transition});
  return result;
}

/// The structures' own parts: edges for the edge form, unary + per-sequence transition for the factored one.
PartsOutput make_own_parts(Napi::Env env, const ChainArgs& args, const std::vector<int64_t>& lead) {
  return make_parts(env, args, lead, !args.factored, args.factored, args.factored);
}

/// A sequence whose every labelling scores -inf has no distribution: an error, naming it.
template <typename T>
void check_log_partition(const ChainArgs& args, const T* log_z) {
  require_finite_log_partition(log_z, args.dtype(), args.shape.batch, args.on_device(), "sequence", args.first().name, "labelling");
}

/// A sample row the sampler could not draw (it writes -1 over the whole row, never indexing with a failed draw):
/// with log Z finite, every weight of a backward-sampling step underflowed, the round-off of scores too large
/// for the dtype. An error naming the sequence; `labels` [samples, B, N] on the host.
void check_sampled(const ChainArgs& args, const int32_t* labels, int64_t samples) {
  const int64_t B = args.shape.batch, N = args.shape.length;
  for (int64_t row = 0; row < samples * B; ++row) {
    if (labels[row * N] >= 0) continue;
    range_error("ERR_INVALID_SCORES", "sequence " + std::to_string(row % B) + " of " + args.first().name +
                                          " cannot be sampled: its scores are too large for " + dtype_name(args.dtype()) +
                                          " (every weight of a backward-sampling step underflows; use float64 or smaller scores)");
  }
}

/// Runs compute(T()) after the argument checks, and returns finish(env).
template <typename Compute, typename Finish>
Napi::Value run_chain_job(Napi::Env env, const ChainArgs& args, Job job, bool async, Compute compute, Finish finish) {
  args.hold(job);
  job.compute = [args, compute]() {
    args.prepare();
    for_dtype(args.dtype(), [&](auto tag) { compute(tag); });
  };
  job.finish = finish;
  return run_job(env, std::move(job), async);
}

Napi::Value log_partition_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const ChainArgs args = parse_chain(env, info[0], info[1]);
    const Output log_z = make_output(env, args.dtype(), {args.shape.batch}, args.on_device());
    Job job;
    job.hold(log_z);
    return run_chain_job(
        env, args, std::move(job), parse_async(info, 2),
        [args, log_z](auto tag) {
          using T = decltype(tag);
          LS_CALL(args.on_device(), chain_log_partition<T>, args.potentials<T>(), args.shape, out<T>(log_z));
          check_log_partition(args, out<T>(log_z));
        },
        [log_z](Napi::Env) { return log_z.js(); });
  });
}

Napi::Value marginals_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const ChainArgs args = parse_chain(env, info[0], info[1]);
    const bool with_edges = info[2].ToBoolean().Value();
    OutArgs outs(env, info[4], parse_async(info, 3), "edges");
    const Output log_z = make_output(env, args.dtype(), {args.shape.batch}, args.on_device());
    const PartsOutput parts = make_parts(env, args, {}, !args.factored || with_edges, args.factored, args.factored, &outs);
    Job job;
    job.hold(log_z);
    parts.hold(job);
    return run_chain_job(
        env, args, std::move(job), parse_async(info, 3),
        [args, log_z, parts](auto tag) {
          using T = decltype(tag);
          LS_CALL(args.on_device(), chain_marginals<T>, args.potentials<T>(), args.shape, out<T>(log_z), parts.parts<T>());
          check_log_partition(args, out<T>(log_z));
        },
        [log_z, parts](Napi::Env env) {
          Napi::Object result = Napi::Object::New(env);
          result.Set("logPartition", log_z.js());
          parts.set(result);
          return static_cast<Napi::Value>(result);
        });
  });
}

Napi::Value marginals_backward_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const ChainArgs args = parse_chain(env, info[0], info[1]);
    if (!info[2].IsObject()) type_error("ERR_INVALID_ARG_TYPE", "grad must be an object of part tensors");
    const Napi::Object grad_object = info[2].As<Napi::Object>();
    const int64_t B = args.shape.batch, C = args.shape.labels;
    TensorArg grad_edges, grad_unary, grad_transition;
    if (args.factored) {
      grad_unary = parse_tensor(env, grad_object.Get("unary"), "grad.unary");
      grad_transition = parse_tensor(env, grad_object.Get("transition"), "grad.transition");
      const std::vector<int64_t> transition_shape{B, C, C};
      require_match(args.unary, grad_unary, &args.unary.shape);
      require_match(args.unary, grad_transition, &transition_shape);
    } else {
      grad_edges = parse_tensor(env, grad_object.Get("edges"), "grad.edges");
      require_match(args.edges, grad_edges, &args.edges.shape);
    }
    const bool shared = args.factored && args.transition.shape.size() == 2;
    // Outputs in the potentials' shapes; a shared transition's gradient is summed over the batch.
    // The kernels write every element: the sweeps zero the parts past each length, sum_over_batch every entry.
    OutArgs outs(env, info[4], parse_async(info, 3), "edges");
    PartsOutput result;
    if (args.factored) {
      result.has_unary = result.has_transition = true;
      result.unary = outs.make(env, "unary", args.dtype(), args.unary.shape, args.on_device(), Fill::Overwritten);
      result.transition = outs.make(env, "transition", args.dtype(), args.transition.shape, args.on_device(), Fill::Overwritten);
    } else {
      result.has_edges = true;
      result.edges = outs.make(env, "edges", args.dtype(), args.edges.shape, args.on_device(), Fill::Overwritten);
    }
    outs.require_disjoint({&args.edges, &args.unary, &args.transition, &grad_edges, &grad_unary, &grad_transition});
    const std::size_t element = dtype_size(args.dtype());
    const Scratch log_z(args.on_device(), static_cast<std::size_t>(B) * element);
    const Scratch per_sequence = shared ? Scratch(args.on_device(), static_cast<std::size_t>(B * C * C) * element) : Scratch();
    Job job;
    result.hold(job);
    job.hold(args.factored ? grad_unary : grad_edges);
    if (args.factored) job.hold(grad_transition);
    log_z.hold(job);
    per_sequence.hold(job);
    return run_chain_job(
        env, args, std::move(job), parse_async(info, 3),
        [args, grad_edges, grad_unary, grad_transition, result, log_z, per_sequence, shared](auto tag) {
          using T = decltype(tag);
          ChainPotentials<T> grad;
          if (args.factored) {
            check_finite(grad_unary);
            check_finite(grad_transition);
            grad.unary = in<T>(grad_unary);
            grad.transition = in<T>(grad_transition);
          } else {
            check_finite(grad_edges);
            grad.edges = in<T>(grad_edges);
          }
          ChainParts<T> parts = result.parts<T>();
          if (shared) parts.transition = per_sequence.as<T>();
          LS_CALL(args.on_device(), chain_marginals_backward<T>, args.potentials<T>(), grad, args.shape, log_z.as<T>(), parts);
          check_log_partition(args, log_z.as<T>());
          if (shared) {
            const int64_t C = args.shape.labels;
            LS_CALL(args.on_device(), sum_over_batch<T>, per_sequence.as<const T>(), out<T>(result.transition),
                    args.shape.batch, C * C);
          }
        },
        [result](Napi::Env env) {
          Napi::Object object = Napi::Object::New(env);
          result.set(object);
          return static_cast<Napi::Value>(object);
        });
  });
}

Napi::Value entropy_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const ChainArgs args = parse_chain(env, info[0], info[1]);
    const Output entropy = make_output(env, args.dtype(), {args.shape.batch}, args.on_device());
    const Scratch log_z(args.on_device(), static_cast<std::size_t>(args.shape.batch) * dtype_size(args.dtype()));
    Job job;
    job.hold(entropy);
    log_z.hold(job);
    return run_chain_job(
        env, args, std::move(job), parse_async(info, 2),
        [args, entropy, log_z](auto tag) {
          using T = decltype(tag);
          LS_CALL(args.on_device(), chain_entropy<T>, args.potentials<T>(), args.shape, log_z.as<T>(), out<T>(entropy));
          check_log_partition(args, log_z.as<T>());
        },
        [entropy](Napi::Env) { return entropy.js(); });
  });
}

IndexOutput make_labels(Napi::Env env, const ChainArgs& args, int64_t count) {
  return make_index_result(env, args.on_device(), count);
}

/// The finish step of an op that returns labellings with their scores and one-hot parts (argmax, topk):
/// { labels, score, ...parts }.
std::function<Napi::Value(Napi::Env)> labelled_result(const IndexOutput& labels, const Output& score, const PartsOutput& parts) {
  return [labels, score, parts](Napi::Env env) {
    Napi::Object result = Napi::Object::New(env);
    result.Set("labels", labels.host.js());
    result.Set("score", score.js());
    parts.set(result);
    return static_cast<Napi::Value>(result);
  };
}

Napi::Value argmax_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const ChainArgs args = parse_chain(env, info[0], info[1]);
    const IndexOutput labels = make_labels(env, args, args.shape.batch * args.shape.length);
    const Output score = make_output(env, args.dtype(), {args.shape.batch}, args.on_device());
    const PartsOutput parts = make_own_parts(env, args, {});
    Job job;
    labels.hold(job);
    job.hold(score);
    parts.hold(job);
    return run_chain_job(
        env, args, std::move(job), parse_async(info, 2),
        [args, labels, score, parts](auto tag) {
          using T = decltype(tag);
          LS_CALL(args.on_device(), chain_viterbi<T>, args.potentials<T>(), args.shape, labels.kernel_data(), out<T>(score));
          check_log_partition(args, out<T>(score));
          LS_CALL(args.on_device(), chain_parts<T>, labels.kernel_data(), args.kernel_lengths(), args.shape, 1, parts.parts<T>());
          labels.to_host();
        },
        labelled_result(labels, score, parts));
  });
}

/// The most labellings chainTopk lists per sequence.
constexpr int64_t kMaxTopk = 1024;

/// chainTopk(potentials, lengths, k, async) -> { labels Int32Array [k, B, N], score [k, B], parts with a leading
/// [k] (the potentials' part layout) }: the k best labellings of each sequence in order (linear_chain_topk.h), -inf
/// scores, -1 labels and zero parts past the last labelling of finite score.
Napi::Value topk_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const ChainArgs args = parse_chain(env, info[0], info[1]);
    const int64_t k = parse_integer(info[2], "k", 1, kMaxTopk);
    const ChainShape& s = args.shape;
    const int64_t part_size = (s.length + s.labels) * s.labels;  // the larger per-position parts
    if (k * s.batch * s.length > std::numeric_limits<int32_t>::max() || k * s.batch * part_size > (int64_t(1) << 50) / 8 ||
        (!args.factored && k * args.edges.count > (int64_t(1) << 50) / 8) ||
        chain::topk_index_workspace_size(s, k) > std::numeric_limits<int32_t>::max()) {
      range_error("ERR_SIZE_OVERFLOW", "k x potentials is too large");
    }
    const IndexOutput labels = make_labels(env, args, k * s.batch * s.length);
    const Output score = make_output(env, args.dtype(), {k, s.batch}, args.on_device());
    const PartsOutput parts = make_own_parts(env, args, {k});
    Job job;
    labels.hold(job);
    job.hold(score);
    parts.hold(job);
    return run_chain_job(
        env, args, std::move(job), parse_async(info, 3),
        [args, labels, score, parts, k](auto tag) {
          using T = decltype(tag);
          LS_CALL(args.on_device(), chain_topk<T>, args.potentials<T>(), args.shape, k, labels.kernel_data(), out<T>(score));
          check_log_partition(args, out<T>(score));
          LS_CALL(args.on_device(), chain_parts<T>, labels.kernel_data(), args.kernel_lengths(), args.shape, k, parts.parts<T>());
          labels.to_host();
        },
        labelled_result(labels, score, parts));
  });
}

Napi::Value sample_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const ChainArgs args = parse_chain(env, info[0], info[1]);
    const int64_t samples = parse_integer(info[2], "samples", 1, std::numeric_limits<int32_t>::max());
    const uint64_t seed = parse_seed(info[3], "seed");
    const ChainShape& s = args.shape;
    const int64_t part_size = (s.length + s.labels) * s.labels;  // the larger per-position parts
    if (samples * s.batch * s.length > std::numeric_limits<int32_t>::max() ||
        samples * s.batch * part_size > (int64_t(1) << 50) / 8 ||
        (!args.factored && samples * args.edges.count > (int64_t(1) << 50) / 8)) {
      range_error("ERR_SIZE_OVERFLOW", "samples x potentials is too large");
    }
    const IndexOutput labels = make_labels(env, args, samples * s.batch * s.length);
    const PartsOutput parts = make_own_parts(env, args, {samples});
    const Scratch log_z(args.on_device(), static_cast<std::size_t>(s.batch) * dtype_size(args.dtype()));
    Job job;
    labels.hold(job);
    parts.hold(job);
    log_z.hold(job);
    return run_chain_job(
        env, args, std::move(job), parse_async(info, 4),
        [args, labels, parts, log_z, samples, seed](auto tag) {
          using T = decltype(tag);
          LS_CALL(args.on_device(), chain_sample<T>, args.potentials<T>(), args.shape, samples, seed, log_z.as<T>(),
                  labels.kernel_data());
          check_log_partition(args, log_z.as<T>());
          labels.to_host();
          check_sampled(args, static_cast<const int32_t*>(labels.host.data), samples);
          LS_CALL(args.on_device(), chain_parts<T>, labels.kernel_data(), args.kernel_lengths(), args.shape, samples,
                  parts.parts<T>());
        },
        [labels, parts](Napi::Env env) {
          Napi::Object result = Napi::Object::New(env);
          result.Set("labels", labels.host.js());
          parts.set(result);
          return static_cast<Napi::Value>(result);
        });
  });
}

Napi::Value log_prob_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const ChainArgs args = parse_chain(env, info[0], info[1]);
    if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      type_error("ERR_INVALID_ARG_TYPE", "labels must be an Int32Array");
    }
    const Napi::Int32Array array = info[2].As<Napi::Int32Array>();
    const int64_t B = args.shape.batch, N = args.shape.length, C = args.shape.labels;
    const int64_t count = static_cast<int64_t>(array.ElementLength());
    if (count == 0 || count % (B * N) != 0) {
      range_error("ERR_SHAPE_MISMATCH", "labels must hold S x B x N = S x " + std::to_string(B) + " x " + std::to_string(N) +
                                            " entries, got " + std::to_string(count));
    }
    const int64_t samples = count / (B * N);
    auto host_labels = std::make_shared<std::vector<int32_t>>(array.Data(), array.Data() + count);
    for (int64_t row = 0; row < samples * B; ++row) {
      const int64_t length = args.length_of(row % B);
      for (int64_t n = 0; n < length; ++n) {
        const int32_t y = (*host_labels)[row * N + n];
        if (y < 0 || y >= C) {
          range_error("ERR_OUT_OF_RANGE", "labels[" + std::to_string(row * N + n) + "] = " + std::to_string(y) +
                                              " is outside [0, " + std::to_string(C - 1) + "] (position " +
                                              std::to_string(n) + " of a sequence of length " + std::to_string(length) + ")");
        }
      }
    }
    const Output result = make_output(env, args.dtype(), {samples, B}, args.on_device());
    const Scratch log_z(args.on_device(), static_cast<std::size_t>(B) * dtype_size(args.dtype()));
    const Scratch device_labels = args.on_device() ? Scratch(true, static_cast<std::size_t>(count) * sizeof(int32_t)) : Scratch();
    Job job;
    job.hold(result);
    log_z.hold(job);
    device_labels.hold(job);
    return run_chain_job(
        env, args, std::move(job), parse_async(info, 3),
        [args, result, log_z, device_labels, host_labels, samples](auto tag) {
          using T = decltype(tag);
          const int32_t* labels = host_labels->data();
#if LS_WITH_CUDA
          if (device_labels.device) {
            cuda::copy_to_device(device_labels.data, labels, host_labels->size() * sizeof(int32_t));
            labels = device_labels.as<const int32_t>();
          }
#endif
          LS_CALL(args.on_device(), chain_log_partition<T>, args.potentials<T>(), args.shape, log_z.as<T>());
          check_log_partition(args, log_z.as<T>());
          LS_CALL(args.on_device(), chain_score<T>, args.potentials<T>(), args.shape, labels, samples, log_z.as<const T>(),
                  out<T>(result));
        },
        [result](Napi::Env) { return result.js(); });
  });
}

/// SparseMAP works on the parts of the edge form (the factored form's parts include transition counts).
/// Its part indices are int32: (N-1)·C² must fit (sparsemap_io.h).
void require_edges(const ChainArgs& args) {
  if (args.factored) {
    type_error("ERR_INVALID_ARG_TYPE", "SparseMAP of a linear chain needs edge potentials [B, N-1, C, C], not { unary, transition }");
  }
  require_int32_parts((args.shape.length - 1) * args.shape.labels * args.shape.labels, args.edges, "(N-1)·C²");
}

/// sparsemap(potentials, lengths, { maxIterations, tolerance, maxActive }, async) -> { marginals (edges), support
/// [B, K, N] (labels), weights [B, K], sizes, iterations, converged [B] }.
Napi::Value sparsemap_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const ChainArgs args = parse_chain(env, info[0], info[1]);
    require_edges(args);
    const SparseMapOptions o = parse_sparsemap_options(info[2]);
    const SparseMapOutputs outputs = make_sparsemap_outputs(env, args.dtype(), args.edges.shape, args.on_device(),
                                                            args.shape.batch, o.max_active, args.shape.length);
    Job job;
    outputs.hold(job);
    return run_chain_job(
        env, args, std::move(job), parse_async(info, 3),
        [args, o, outputs](auto tag) {
          using T = decltype(tag);
          LS_CALL(args.on_device(), chain_sparsemap<T>, args.potentials<T>(), args.shape, o, out<T>(outputs.marginals),
                  outputs.support.kernel_data(), outputs.weights.kernel_data(), outputs.sizes.kernel_data(),
                  outputs.iterations.kernel_data(), outputs.converged.kernel_data());
          outputs.finish_compute("sequence", args.edges.name);
        },
        [outputs](Napi::Env env) { return outputs.js(env); });
  });
}

/// sparsemapBackward(potentials, lengths, maxActive, support, sizes, grad, async): (dmu*/dedges)^T grad.
Napi::Value sparsemap_backward_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const ChainArgs args = parse_chain(env, info[0], info[1]);
    require_edges(args);
    const SupportInput support = parse_support(
        info[2], info[3], info[4], args.shape.batch, args.shape.length, args.on_device(), [&](int64_t b, const int32_t* y) {
          for (int64_t n = 0; n < args.length_of(b); ++n) {
            if (y[n] < 0 || y[n] >= args.shape.labels) return false;
          }
          return true;
        });
    const TensorArg grad = parse_tensor(env, info[5], "grad");
    require_match(args.edges, grad, &args.edges.shape);
    const Output result = make_output(env, args.dtype(), args.edges.shape, args.on_device());
    Job job;
    job.hold(result);
    job.hold(grad);
    support.hold(job);
    return run_chain_job(
        env, args, std::move(job), parse_async(info, 6),
        [args, grad, result, support](auto tag) {
          using T = decltype(tag);
          check_finite(grad);
          support.prepare();
          LS_CALL(args.on_device(), chain_sparsemap_backward<T>, args.potentials<T>(), args.shape, support.max_active,
                  support.rows.kernel_data(), support.sizes.kernel_data(), in<T>(grad), out<T>(result));
        },
        [result](Napi::Env) { return result.js(); });
  });
}

}  // namespace

void register_linear_chain_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("chainLogPartition", Napi::Function::New(env, log_partition_op, "chainLogPartition"));
  exports.Set("chainMarginals", Napi::Function::New(env, marginals_op, "chainMarginals"));
  exports.Set("chainMarginalsBackward", Napi::Function::New(env, marginals_backward_op, "chainMarginalsBackward"));
  exports.Set("chainEntropy", Napi::Function::New(env, entropy_op, "chainEntropy"));
  exports.Set("chainArgmax", Napi::Function::New(env, argmax_op, "chainArgmax"));
  exports.Set("chainTopk", Napi::Function::New(env, topk_op, "chainTopk"));
  exports.Set("chainSample", Napi::Function::New(env, sample_op, "chainSample"));
  exports.Set("chainLogProb", Napi::Function::New(env, log_prob_op, "chainLogProb"));
  exports.Set("chainSparsemap", Napi::Function::New(env, sparsemap_op, "chainSparsemap"));
  exports.Set("chainSparsemapBackward", Napi::Function::New(env, sparsemap_backward_op, "chainSparsemapBackward"));
}

}  // namespace binding
}  // namespace ls
