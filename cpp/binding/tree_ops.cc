// N-API entry points of the structures whose parts are the entries of one score tensor (tree.h): CKY (TreeCRF),
// Eisner (DependencyCRF), the Matrix-Tree theorem (NonProjectiveDependencyCRF), SemiMarkov (SemiMarkovCRF) and
// Alignment (AlignmentCRF). Each takes a spec { structure: 'cky' | 'eisner' | 'matrix_tree' | 'semi_markov' |
// 'alignment', scores, lengths (Int32Array [B] or null), singleRoot, targetLengths (Int32Array [B] or null,
// alignment), local (alignment) }, checks it on the main thread, makes its outputs where the scores live, and runs
// the kernels as a Job (sync or async).
#include <napi.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "checks.h"
#include "dispatch.h"
#include "job.h"
#include "latent_struct/alignment_sweeps.h"
#include "latent_struct/arborescence_kbest.h"
#include "latent_struct/cfg_sweeps.h"
#include "latent_struct/semi_markov_sweeps.h"
#include "latent_struct/tree.h"
#include "ops.h"
#include "scratch.h"
#include "sparsemap_io.h"

namespace ls {
namespace binding {
namespace {

/// Longest sentence: the charts are O(N^2) per sentence and the work O(N^3). The Matrix-Tree workspace holds
/// five N x N double matrices per thread (42 MB at N = 1024).
constexpr int64_t kMaxTreeLength = 4096;
constexpr int64_t kMaxMatrixTreeLength = 1024;
/// The path structures' charts are O(nodes) per instance: at most 2^28 nodes (N C or N M).
constexpr int64_t kMaxPathNodes = int64_t(1) << 28;

enum class Structure { Cky, Eisner, MatrixTree, SemiMarkov, Alignment, Cfg };

// Calls <structure>_<op> on the backend where the scores live (<op> may be a template instance: sparsemap<T>);
// LS_TREE_CALL also serves SentCFG ('cfg'), LS_PARSER_CALL the ops SentCFG lacks (SparseMAP).
#define LS_TREE_CALL(args, op, ...)                                                                 \
  ((args).structure == Structure::Cfg ? LS_CALL((args).on_device(), cfg_##op, __VA_ARGS__)          \
                                      : LS_PARSER_CALL(args, op, __VA_ARGS__))
#define LS_PARSER_CALL(args, op, ...)                                                                         \
  ((args).structure == Structure::Cky          ? LS_CALL((args).on_device(), cky_##op, __VA_ARGS__)          \
   : (args).structure == Structure::Eisner     ? LS_CALL((args).on_device(), eisner_##op, __VA_ARGS__)       \
   : (args).structure == Structure::MatrixTree ? LS_CALL((args).on_device(), matrix_tree_##op, __VA_ARGS__)  \
   : (args).structure == Structure::SemiMarkov ? LS_CALL((args).on_device(), semi_markov_##op, __VA_ARGS__)  \
                                               : LS_CALL((args).on_device(), alignment_##op, __VA_ARGS__))

/// Checked scores of a batch of sentences.
struct TreeArgs {
  Structure structure = Structure::Cky;
  TensorArg scores;
  TreeShape shape{};
  bool single_root = true;
  bool local = false;
  std::vector<int32_t> lengths;  // empty: every sentence has length N
  std::vector<int32_t> target_lengths;  // alignment; empty: every target has length M
  Scratch device_lengths;
  Scratch device_target_lengths;

  DType dtype() const { return scores.dtype; }
  bool on_device() const { return scores.on_device; }
  /// Parts (score entries) of one instance.
  int64_t part_count() const { return shape.batch == 0 ? 0 : scores.count / shape.batch; }
  int64_t decoded_size() const {
    switch (structure) {
      case Structure::Cky:
      case Structure::Cfg: return cky_decoded_size(shape.length);
      case Structure::SemiMarkov: return semi_markov_decoded_size(shape.length);
      case Structure::Alignment: return alignment_decoded_size(shape.length, shape.extent);
      default: return eisner_decoded_size(shape.length);
    }
  }

  template <typename T>
  TreePotentials<T> potentials() const {
    TreePotentials<T> p;
    p.scores = in<T>(scores);
    p.single_root = single_root;
    p.lengths = lengths.empty() ? nullptr : on_device() ? device_lengths.as<const int32_t>() : lengths.data();
    p.target_lengths = target_lengths.empty() ? nullptr
                       : on_device()          ? device_target_lengths.as<const int32_t>()
                                              : target_lengths.data();
    p.local = local;
    return p;
  }
  void hold(Job& job) const {
    job.hold(scores);
    device_lengths.hold(job);
    device_target_lengths.hold(job);
  }
  /// NaN and +inf scores are errors (-inf masks parts); copies lengths to the device. Runs in compute.
  void prepare() const {
    check_potentials(scores);
#if LS_WITH_CUDA
    if (device_lengths.device) {
      cuda::copy_to_device(device_lengths.data, lengths.data(), lengths.size() * sizeof(int32_t));
    }
    if (device_target_lengths.device) {
      cuda::copy_to_device(device_target_lengths.data, target_lengths.data(), target_lengths.size() * sizeof(int32_t));
    }
#endif
  }
};

Structure parse_structure(Napi::Value value) {
  static const char* const kNames = "'cky', 'eisner', 'matrix_tree', 'semi_markov', 'alignment' or 'cfg'";
  if (!value.IsString()) type_error("ERR_INVALID_ARG_TYPE", std::string("structure must be ") + kNames);
  const std::string name = value.As<Napi::String>().Utf8Value();
  if (name == "cky") return Structure::Cky;
  if (name == "eisner") return Structure::Eisner;
  if (name == "matrix_tree") return Structure::MatrixTree;
  if (name == "semi_markov") return Structure::SemiMarkov;
  if (name == "alignment") return Structure::Alignment;
  if (name == "cfg") return Structure::Cfg;
  range_error("ERR_OUT_OF_RANGE", std::string("structure must be ") + kNames + ", got '" + name + "'");
}

/// The shape of a tree structure's scores: [B, N, N] or (CKY) [B, N, N, L].
TreeShape tree_shape(const TreeArgs& args) {
  const bool cky = args.structure == Structure::Cky;
  const std::string& name = args.scores.name;
  const std::vector<int64_t>& s = args.scores.shape;
  const bool square = s.size() >= 3 && s[1] == s[2];
  if (!square || (cky ? s.size() > 4 : s.size() != 3)) {
    range_error("ERR_INVALID_SHAPE", name + " must have shape " + (cky ? "[B, N, N] or [B, N, N, L]" : "[B, N, N]") +
                                         ", got " + shape_string(s));
  }
  const int64_t max_length = args.structure == Structure::MatrixTree ? kMaxMatrixTreeLength : kMaxTreeLength;
  if (s[1] > max_length) {
    range_error("ERR_SIZE_OVERFLOW", name + " has N = " + std::to_string(s[1]) + "; at most " +
                                         std::to_string(max_length) + " words are supported");
  }
  return TreeShape{s[0], s[1], s.size() == 4 ? s[3] : 1};
}

/// SemiMarkov: edges [B, N - 1, K, C, C], N >= 2, K >= 2. Alignment: scores [B, N, M, 3].
TreeShape path_shape(const TreeArgs& args) {
  const std::string& name = args.scores.name;
  const std::vector<int64_t>& s = args.scores.shape;
  TreeShape shape{};
  if (args.structure == Structure::SemiMarkov) {
    if (s.size() != 5 || s[3] != s[4] || s[1] < 1 || s[2] < 2 || s[3] < 1) {
      range_error("ERR_INVALID_SHAPE", name + " must have shape [B, N - 1, K, C, C] with N >= 2, K >= 2, C >= 1, got " +
                                           shape_string(s));
    }
    shape = TreeShape{s[0], s[1] + 1, s[3], s[2]};
  } else {
    if (s.size() != 4 || s[3] != 3 || s[1] < 1 || s[2] < 1) {
      range_error("ERR_INVALID_SHAPE", name + " must have shape [B, N, M, 3] with N, M >= 1, got " + shape_string(s));
    }
    shape = TreeShape{s[0], s[1], 1, s[2]};
  }
  const int64_t nodes = shape.length * (args.structure == Structure::SemiMarkov ? shape.labels : shape.extent);
  if (nodes > kMaxPathNodes) {
    range_error("ERR_SIZE_OVERFLOW", name + " " + shape_string(s) + " has " + std::to_string(nodes) +
                                         " chart nodes per instance; at most 2^28 are supported");
  }
  return shape;
}

/// SentCFG: packed scores [B, D], D = N T + NT S^2 + NT (cfg_sweeps.h), with spec.grammar { length N, nonterminals
/// NT, preterminals T }; N >= 2 and the argmax's back pointers (k, X, Y) fit int32: N S^2 < 2^31.
TreeShape cfg_shape(const TreeArgs& args, const Napi::Object& spec) {
  const Napi::Value grammar = spec.Get("grammar");
  if (!grammar.IsObject()) {
    type_error("ERR_INVALID_ARG_TYPE", "grammar must be an object { length, nonterminals, preterminals }");
  }
  const Napi::Object g = grammar.As<Napi::Object>();
  const int64_t N = parse_integer(g.Get("length"), "grammar.length", 2, kMaxTreeLength);
  const int64_t NT = parse_integer(g.Get("nonterminals"), "grammar.nonterminals", 1, int64_t(1) << 15);
  const int64_t T = parse_integer(g.Get("preterminals"), "grammar.preterminals", 1, int64_t(1) << 15);
  const int64_t S = NT + T;
  if (N * S * S >= (int64_t(1) << 31)) {
    range_error("ERR_SIZE_OVERFLOW", "SentCFG with N = " + std::to_string(N) + " and NT + T = " + std::to_string(S) +
                                         " is too large: N (NT + T)^2 must be below 2^31");
  }
  const int64_t D = N * T + NT * S * S + NT;
  const std::vector<int64_t>& s = args.scores.shape;
  if (s.size() != 2 || s[1] != D) {
    range_error("ERR_INVALID_SHAPE", args.scores.name + " must have shape [B, N·T + NT·(NT + T)² + NT] = [B, " +
                                         std::to_string(D) + "], got " + shape_string(s));
  }
  return TreeShape{s[0], N, NT, T};
}

TreeArgs parse_tree(Napi::Env env, Napi::Value spec_value) {
  if (!spec_value.IsObject()) type_error("ERR_INVALID_ARG_TYPE", "spec must be an object");
  const Napi::Object spec = spec_value.As<Napi::Object>();
  TreeArgs args;
  args.structure = parse_structure(spec.Get("structure"));
  const bool path = args.structure == Structure::SemiMarkov || args.structure == Structure::Alignment;
  const char* name = args.structure == Structure::Cky          ? "spans"
                     : args.structure == Structure::SemiMarkov ? "edges"
                     : args.structure == Structure::Alignment || args.structure == Structure::Cfg ? "scores"
                                                                                                  : "arcs";
  args.scores = parse_tensor(env, spec.Get("scores"), name);
  args.shape = args.structure == Structure::Cfg ? cfg_shape(args, spec) : path ? path_shape(args) : tree_shape(args);
  args.single_root = spec.Get("singleRoot").ToBoolean().Value();
  args.local = args.structure == Structure::Alignment && spec.Get("local").ToBoolean().Value();
  args.lengths = parse_lengths(spec.Get("lengths"), args.shape.batch, args.shape.length);
  for (std::size_t b = 0; args.structure == Structure::Cfg && b < args.lengths.size(); ++b) {
    if (args.lengths[b] < 2) {  // no unary rules: a single word has no tree with a nonterminal root
      range_error("ERR_OUT_OF_RANGE", "lengths[" + std::to_string(b) + "] = " + std::to_string(args.lengths[b]) +
                                          " is outside [2, " + std::to_string(args.shape.length) +
                                          "]: a SentCFG sentence has at least 2 words");
    }
  }
  args.device_lengths = device_lengths_for(args.on_device(), args.lengths);
  if (args.structure == Structure::Alignment) {
    args.target_lengths = parse_lengths(spec.Get("targetLengths"), args.shape.batch, args.shape.extent);
    args.device_target_lengths = device_lengths_for(args.on_device(), args.target_lengths);
  }
  return args;
}

/// A sentence whose every tree scores -inf has no distribution: an error, naming it.
template <typename T>
void check_log_partition(const TreeArgs& args, const T* log_z) {
  require_finite_log_partition(log_z, args.dtype(), args.shape.batch, args.on_device(), "sentence", args.scores.name, "tree");
}

/// Runs compute(T()) after the argument checks, and returns finish(env).
template <typename Compute, typename Finish>
Napi::Value run_tree_job(Napi::Env env, const TreeArgs& args, Job job, bool async, Compute compute, Finish finish) {
  args.hold(job);
  job.compute = [args, compute]() {
    args.prepare();
    for_dtype(args.dtype(), [&](auto tag) { compute(tag); });
  };
  job.finish = finish;
  return run_job(env, std::move(job), async);
}

Scratch log_z_scratch(const TreeArgs& args) {
  return Scratch(args.on_device(), static_cast<std::size_t>(args.shape.batch) * dtype_size(args.dtype()));
}

Napi::Value log_partition_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TreeArgs args = parse_tree(env, info[0]);
    const Output log_z = make_output(env, args.dtype(), {args.shape.batch}, args.on_device());
    Job job;
    job.hold(log_z);
    return run_tree_job(
        env, args, std::move(job), parse_async(info, 1),
        [args, log_z](auto tag) {
          using T = decltype(tag);
          LS_TREE_CALL(args, log_partition<T>, args.potentials<T>(), args.shape, out<T>(log_z));
          check_log_partition(args, out<T>(log_z));
        },
        [log_z](Napi::Env) { return log_z.js(); });
  });
}

Napi::Value marginals_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TreeArgs args = parse_tree(env, info[0]);
    OutArgs outs(env, info[2], parse_async(info, 1), "marginals");
    // Every structure's kernels write whole N x N (x L) blocks, zeros outside each length.
    const Output marginals = outs.make(env, "marginals", args.dtype(), args.scores.shape, args.on_device(), Fill::Overwritten);
    outs.require_disjoint({&args.scores});
    const Scratch log_z = log_z_scratch(args);
    Job job;
    job.hold(marginals);
    log_z.hold(job);
    return run_tree_job(
        env, args, std::move(job), parse_async(info, 1),
        [args, marginals, log_z](auto tag) {
          using T = decltype(tag);
          LS_TREE_CALL(args, marginals<T>, args.potentials<T>(), args.shape, log_z.as<T>(), out<T>(marginals));
          check_log_partition(args, log_z.as<T>());
        },
        [marginals](Napi::Env) { return marginals.js(); });
  });
}

Napi::Value marginals_backward_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TreeArgs args = parse_tree(env, info[0]);
    const TensorArg grad = parse_tensor(env, info[1], "grad");
    require_match(args.scores, grad, &args.scores.shape);
    OutArgs outs(env, info[3], parse_async(info, 2), "marginals");
    const Output result = outs.make(env, "marginals", args.dtype(), args.scores.shape, args.on_device(), Fill::Overwritten);
    outs.require_disjoint({&args.scores, &grad});
    const Scratch log_z = log_z_scratch(args);
    Job job;
    job.hold(result);
    job.hold(grad);
    log_z.hold(job);
    return run_tree_job(
        env, args, std::move(job), parse_async(info, 2),
        [args, grad, result, log_z](auto tag) {
          using T = decltype(tag);
          check_finite(grad);
          LS_TREE_CALL(args, marginals_backward<T>, args.potentials<T>(), in<T>(grad), args.shape, log_z.as<T>(),
                       out<T>(result));
          check_log_partition(args, log_z.as<T>());
        },
        [result](Napi::Env) { return result.js(); });
  });
}

Napi::Value entropy_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TreeArgs args = parse_tree(env, info[0]);
    const Output entropy = make_output(env, args.dtype(), {args.shape.batch}, args.on_device());
    const Scratch log_z = log_z_scratch(args);
    Job job;
    job.hold(entropy);
    log_z.hold(job);
    return run_tree_job(
        env, args, std::move(job), parse_async(info, 1),
        [args, entropy, log_z](auto tag) {
          using T = decltype(tag);
          LS_TREE_CALL(args, entropy<T>, args.potentials<T>(), args.shape, log_z.as<T>(), out<T>(entropy));
          check_log_partition(args, log_z.as<T>());
        },
        [entropy](Napi::Env) { return entropy.js(); });
  });
}

/// The finish step of an op that returns decoded structures with their scores and one-hot parts (argmax, topk):
/// { decoded, score, parts }.
std::function<Napi::Value(Napi::Env)> decoded_result(const IndexOutput& decoded, const Output& score, const Output& parts) {
  return [decoded, score, parts](Napi::Env env) {
    Napi::Object result = Napi::Object::New(env);
    result.Set("decoded", decoded.host.js());
    result.Set("score", score.js());
    result.Set("parts", parts.js());
    return static_cast<Napi::Value>(result);
  };
}

Napi::Value argmax_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TreeArgs args = parse_tree(env, info[0]);
    const IndexOutput decoded = make_index_result(env, args.on_device(), args.shape.batch * args.decoded_size());
    const Output score = make_output(env, args.dtype(), {args.shape.batch}, args.on_device());
    const Output parts = make_output(env, args.dtype(), args.scores.shape, args.on_device());
    Job job;
    decoded.hold(job);
    job.hold(score);
    job.hold(parts);
    return run_tree_job(
        env, args, std::move(job), parse_async(info, 1),
        [args, decoded, score, parts](auto tag) {
          using T = decltype(tag);
          LS_TREE_CALL(args, argmax<T>, args.potentials<T>(), args.shape, decoded.kernel_data(), out<T>(score),
                       out<T>(parts));
          check_log_partition(args, out<T>(score));
          decoded.to_host();
        },
        decoded_result(decoded, score, parts));
  });
}

/// The most structures treeTopk lists per sentence.
constexpr int64_t kMaxTopk = 1024;
/// The most chart derivations CKY's and Eisner's topk keep per sentence (5 GiB of lists in float64).
constexpr int64_t kMaxChartTopk = int64_t(1) << 28;

/// treeTopk(spec, k, async) -> { decoded Int32Array [k, B, width], score [k, B], parts [k, B, ...scores' shape] }:
/// the k best structures of each sentence in order (tree.h's prefix_topk), -inf scores, -1 decoded rows and zero
/// parts past the last structure of finite score.
Napi::Value topk_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TreeArgs args = parse_tree(env, info[0]);
    const int64_t k = parse_integer(info[1], "k", 1, kMaxTopk);
    const int64_t B = args.shape.batch;
    // SemiMarkov's and Alignment's topk index workspace (lattice_sweeps.h): int32 offsets within a sentence.
    const int64_t lattice_indices =
        args.structure == Structure::SemiMarkov  ? semi_markov::topk_index_workspace_size(args.shape, k)
        : args.structure == Structure::Alignment ? alignment::topk_index_workspace_size(args.shape, k)
                                                 : 0;
    if (k * B * args.decoded_size() > std::numeric_limits<int32_t>::max() ||
        k * args.scores.count > (int64_t(1) << 50) / 8 || lattice_indices > std::numeric_limits<int32_t>::max()) {
      range_error("ERR_SIZE_OVERFLOW", "k x scores is too large");
    }
    if (args.structure == Structure::MatrixTree &&
        (arborescence::kbest_iwork_size(args.shape.length, k) > std::numeric_limits<int32_t>::max() ||
         B * (arborescence::kbest_work_size(args.shape.length, k) + arborescence::kbest_iwork_size(args.shape.length, k)) >
             (int64_t(1) << 50) / 8)) {
      range_error("ERR_SIZE_OVERFLOW", "the k-best trees' workspace (k x (N + k) per sentence) is too large");
    }
    // CKY and Eisner keep k derivations of 3 chart items per span (cky_sweeps.h, eisner_sweeps.h topk_op): at most
    // kMaxChartTopk of them per sentence (20 bytes each in float64).
    const int64_t chart_entries = 3 * (args.shape.length + 1) * (args.shape.length + 1) * k;
    if ((args.structure == Structure::Cky || args.structure == Structure::Eisner) &&
        (chart_entries > kMaxChartTopk || B * chart_entries > (int64_t(1) << 50) / 32)) {
      range_error("ERR_SIZE_OVERFLOW", "the k-best charts (3 (N + 1)^2 k derivations per sentence) are too large");
    }
    // SentCFG keeps k derivations per (span, label) and one candidate heap per thread of a CUDA block (cfg_sweeps.h
    // topk_op; the CPU's one heap is fewer): at most kMaxChartTopk entries per sentence.
    if (args.structure == Structure::Cfg) {
      const int64_t entries = cfg::topk_workspace_size(args.shape, k, cfg::topk_heaps(args.shape, 256));
      if (entries > kMaxChartTopk || B * entries > (int64_t(1) << 50) / 32) {
        range_error("ERR_SIZE_OVERFLOW", "the k-best PCFG charts ((N^2 S + 1) k derivations and the heaps) are too large");
      }
    }
    std::vector<int64_t> parts_shape{k};
    parts_shape.insert(parts_shape.end(), args.scores.shape.begin(), args.scores.shape.end());
    const IndexOutput decoded = make_index_result(env, args.on_device(), k * B * args.decoded_size());
    const Output score = make_output(env, args.dtype(), {k, B}, args.on_device());
    const Output parts = make_output(env, args.dtype(), parts_shape, args.on_device());
    Job job;
    decoded.hold(job);
    job.hold(score);
    job.hold(parts);
    return run_tree_job(
        env, args, std::move(job), parse_async(info, 2),
        [args, decoded, score, parts, k](auto tag) {
          using T = decltype(tag);
          LS_TREE_CALL(args, topk<T>, args.potentials<T>(), args.shape, k, decoded.kernel_data(), out<T>(score),
                       out<T>(parts));
          check_log_partition(args, out<T>(score));
          decoded.to_host();
        },
        decoded_result(decoded, score, parts));
  });
}

Napi::Value sample_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TreeArgs args = parse_tree(env, info[0]);
    const int64_t samples = parse_integer(info[1], "samples", 1, std::numeric_limits<int32_t>::max());
    const uint64_t seed = parse_seed(info[2], "seed");
    const int64_t B = args.shape.batch;
    if (samples * B * args.decoded_size() > std::numeric_limits<int32_t>::max() ||
        samples * args.scores.count > (int64_t(1) << 50) / 8) {
      range_error("ERR_SIZE_OVERFLOW", "samples x scores is too large");
    }
    std::vector<int64_t> parts_shape{samples};
    parts_shape.insert(parts_shape.end(), args.scores.shape.begin(), args.scores.shape.end());
    const IndexOutput decoded = make_index_result(env, args.on_device(), samples * B * args.decoded_size());
    const Output parts = make_output(env, args.dtype(), parts_shape, args.on_device());
    const Scratch log_z = log_z_scratch(args);
    Job job;
    decoded.hold(job);
    job.hold(parts);
    log_z.hold(job);
    return run_tree_job(
        env, args, std::move(job), parse_async(info, 3),
        [args, decoded, parts, log_z, samples, seed](auto tag) {
          using T = decltype(tag);
          LS_TREE_CALL(args, sample<T>, args.potentials<T>(), args.shape, samples, seed, log_z.as<T>(),
                       decoded.kernel_data(), out<T>(parts));
          check_log_partition(args, log_z.as<T>());
          decoded.to_host();
        },
        [decoded, parts](Napi::Env env) {
          Napi::Object result = Napi::Object::New(env);
          result.Set("decoded", decoded.host.js());
          result.Set("parts", parts.js());
          return static_cast<Napi::Value>(result);
        });
  });
}

Napi::Value log_prob_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TreeArgs args = parse_tree(env, info[0]);
    const TensorArg parts = parse_tensor(env, info[1], "parts");
    require_match(args.scores, parts, nullptr);
    const std::vector<int64_t>& s = args.scores.shape;
    const std::vector<int64_t>& p = parts.shape;
    const bool single = p == s;
    const bool stacked = p.size() == s.size() + 1 && std::equal(s.begin(), s.end(), p.begin() + 1);
    if (!single && !stacked) {
      range_error("ERR_SHAPE_MISMATCH", "parts must have the shape of " + args.scores.name + " " + shape_string(s) +
                                            " or [S, ...that shape], got " + shape_string(p));
    }
    const int64_t samples = single ? 1 : p[0];
    const Output result = make_output(env, args.dtype(), single ? std::vector<int64_t>{s[0]} : std::vector<int64_t>{p[0], s[0]},
                                      args.on_device());
    const Scratch log_z = log_z_scratch(args);
    Job job;
    job.hold(result);
    job.hold(parts);
    log_z.hold(job);
    return run_tree_job(
        env, args, std::move(job), parse_async(info, 2),
        [args, parts, result, log_z, samples](auto tag) {
          using T = decltype(tag);
          check_finite(parts);
          LS_TREE_CALL(args, log_partition<T>, args.potentials<T>(), args.shape, log_z.as<T>());
          check_log_partition(args, log_z.as<T>());
          LS_CALL(args.on_device(), structure_score<T>, in<T>(args.scores), in<T>(parts), samples * args.shape.batch,
                  args.shape.batch, args.part_count(), log_z.as<const T>(), out<T>(result));
        },
        [result](Napi::Env) { return result.js(); });
  });
}


/// Whether a decoded structure of sentence b only indexes parts of it: heads in [0, n); 2n - 1 span rows (i, j,
/// label) with 0 <= i <= j < n and label < L; labels in [-1, C) at positions 0 and n - 1 set and gaps below K; or
/// path rows (i, j, op) in the lengths, op < 3, followed by -1 rows. (It need not be a structure.)
bool indexes_sentence(const TreeArgs& args, int64_t b, const int32_t* row) {
  const int64_t n = args.lengths.empty() ? args.shape.length : args.lengths[b];
  switch (args.structure) {
    case Structure::Cky:
      for (int64_t r = 0; r < 2 * n - 1; ++r) {
        const int32_t i = row[3 * r], j = row[3 * r + 1], label = row[3 * r + 2];
        if (i < 0 || i > j || j >= n || label < 0 || label >= args.shape.labels) return false;
      }
      return true;
    case Structure::SemiMarkov: {
      int64_t previous = 0;
      for (int64_t p = 0; p < n; ++p) {
        if (row[p] < -1 || row[p] >= args.shape.labels || ((p == 0 || p == n - 1) && row[p] < 0)) return false;
        if (row[p] < 0) continue;
        if (p - previous >= args.shape.extent) return false;
        previous = p;
      }
      return true;
    }
    case Structure::Alignment: {
      const int64_t m = args.target_lengths.empty() ? args.shape.extent : args.target_lengths[b];
      const int64_t rows = args.shape.length + args.shape.extent - 1;
      bool ended = false;
      for (int64_t r = 0; r < rows; ++r) {
        const int32_t i = row[3 * r], j = row[3 * r + 1], op = row[3 * r + 2];
        if (i < 0 && j < 0 && op < 0 && r > 0) {
          ended = true;
          continue;
        }
        if (ended || i < 0 || i >= n || j < 0 || j >= m || op < 0 || op > 2) return false;
      }
      return true;
    }
    default:
      for (int64_t m = 0; m < n; ++m) {
        if (row[m] < 0 || row[m] >= n) return false;
      }
      return true;
  }
}

/// SparseMAP's part indices are int32: an instance's parts must fit (sparsemap_io.h).
void require_sparsemap_parts(const TreeArgs& args) {
  if (args.structure == Structure::Cfg) type_error("ERR_NOT_IMPLEMENTED", "sparsemap is not implemented for cfg yet");
  const char* what = args.structure == Structure::Cky          ? "N²·L"
                     : args.structure == Structure::SemiMarkov ? "(N-1)·K·C²"
                     : args.structure == Structure::Alignment  ? "N·M·3"
                                                               : "N²";
  require_int32_parts(args.part_count(), args.scores, what);
}

/// sparsemap(spec, { maxIterations, tolerance, maxActive }, async) -> { marginals, support [B, K, decoded size],
/// weights [B, K], sizes [B], iterations [B], converged [B] }.
Napi::Value sparsemap_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TreeArgs args = parse_tree(env, info[0]);
    require_sparsemap_parts(args);
    const SparseMapOptions o = parse_sparsemap_options(info[1]);
    const SparseMapOutputs outputs = make_sparsemap_outputs(env, args.dtype(), args.scores.shape, args.on_device(),
                                                            args.shape.batch, o.max_active, args.decoded_size());
    Job job;
    outputs.hold(job);
    return run_tree_job(
        env, args, std::move(job), parse_async(info, 2),
        [args, o, outputs](auto tag) {
          using T = decltype(tag);
          LS_PARSER_CALL(args, sparsemap<T>, args.potentials<T>(), args.shape, o, out<T>(outputs.marginals),
                       outputs.support.kernel_data(), outputs.weights.kernel_data(), outputs.sizes.kernel_data(),
                       outputs.iterations.kernel_data(), outputs.converged.kernel_data());
          outputs.finish_compute("sentence", args.scores.name);
        },
        [outputs](Napi::Env env) { return outputs.js(env); });
  });
}

/// sparsemapBackward(spec, maxActive, support, sizes, grad, async): (dmu*/dscores)^T grad on each support.
Napi::Value sparsemap_backward_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TreeArgs args = parse_tree(env, info[0]);
    require_sparsemap_parts(args);
    const SupportInput support = parse_support(info[1], info[2], info[3], args.shape.batch, args.decoded_size(),
                                               args.on_device(),
                                               [&](int64_t b, const int32_t* row) { return indexes_sentence(args, b, row); });
    const TensorArg grad = parse_tensor(env, info[4], "grad");
    require_match(args.scores, grad, &args.scores.shape);
    const Output result = make_output(env, args.dtype(), args.scores.shape, args.on_device());
    Job job;
    job.hold(result);
    job.hold(grad);
    support.hold(job);
    return run_tree_job(
        env, args, std::move(job), parse_async(info, 5),
        [args, grad, result, support](auto tag) {
          using T = decltype(tag);
          check_finite(grad);
          support.prepare();
          LS_PARSER_CALL(args, sparsemap_backward<T>, args.potentials<T>(), args.shape, support.max_active,
                       support.rows.kernel_data(), support.sizes.kernel_data(), in<T>(grad), out<T>(result));
        },
        [result](Napi::Env) { return result.js(); });
  });
}

#undef LS_TREE_CALL
#undef LS_PARSER_CALL

}  // namespace

void register_tree_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("treeLogPartition", Napi::Function::New(env, log_partition_op, "treeLogPartition"));
  exports.Set("treeMarginals", Napi::Function::New(env, marginals_op, "treeMarginals"));
  exports.Set("treeMarginalsBackward", Napi::Function::New(env, marginals_backward_op, "treeMarginalsBackward"));
  exports.Set("treeEntropy", Napi::Function::New(env, entropy_op, "treeEntropy"));
  exports.Set("treeArgmax", Napi::Function::New(env, argmax_op, "treeArgmax"));
  exports.Set("treeSample", Napi::Function::New(env, sample_op, "treeSample"));
  exports.Set("treeTopk", Napi::Function::New(env, topk_op, "treeTopk"));
  exports.Set("treeLogProb", Napi::Function::New(env, log_prob_op, "treeLogProb"));
  exports.Set("treeSparsemap", Napi::Function::New(env, sparsemap_op, "treeSparsemap"));
  exports.Set("treeSparsemapBackward", Napi::Function::New(env, sparsemap_backward_op, "treeSparsemapBackward"));
}

}  // namespace binding
}  // namespace ls
