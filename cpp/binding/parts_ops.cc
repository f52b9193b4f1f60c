// N-API entry points of the estimators' parts arithmetic (latent_struct/parts_ops.h), internal to lib/estimators/parts.ts:
// each takes tensors over parts (host or device, viewed as [B, stride]) and makes its result where they live; the
// per-instance scalars (coefficients in, dot products out) and one-hot positions are host arrays.
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "checks.h"
#include "dispatch.h"
#include "job.h"
#include "latent_struct/parts_ops.h"
#include "ops.h"

namespace ls {
namespace binding {
namespace {

/// A host Float64Array argument, copied (it is O(B) scalars).
std::vector<double> parse_float64_array(Napi::Value value, const std::string& name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    type_error("ERR_INVALID_ARG_TYPE", name + " must be a Float64Array");
  }
  const Napi::Float64Array array = value.As<Napi::Float64Array>();
  return std::vector<double>(array.Data(), array.Data() + array.ElementLength());
}

/// A host Int32Array argument, copied.
std::vector<int32_t> parse_int32_array(Napi::Value value, const std::string& name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    type_error("ERR_INVALID_ARG_TYPE", name + " must be an Int32Array");
  }
  const Napi::Int32Array array = value.As<Napi::Int32Array>();
  return std::vector<int32_t>(array.Data(), array.Data() + array.ElementLength());
}

/// Requires `other` to hold as many elements as `reference`, with its dtype and device.
void require_same_size(const TensorArg& reference, const TensorArg& other) {
  require_match(reference, other, nullptr);
  if (other.count != reference.count) {
    range_error("ERR_SHAPE_MISMATCH", other.name + " has " + std::to_string(other.count) + " elements where " +
                                          std::to_string(reference.count) + " were expected");
  }
}

/// The batch B of a [B, ...] view of `count` elements.
int64_t parse_batch(Napi::Value value, int64_t count) {
  const int64_t batch = parse_integer(value, "batch", 1, count > 0 ? count : 1);
  if (count % batch != 0) range_error("ERR_SHAPE_MISMATCH", "batch must divide the number of elements");
  return batch;
}

/// partsCombine(like, terms: tensor[], coefs: Float64Array [terms x B], batch): Σ_t coefs[t, b] · terms[t][b, ...]
/// in like's shape, dtype and place.
Napi::Value parts_combine_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg like = parse_tensor(env, info[0], "like");
    if (!info[1].IsArray()) type_error("ERR_INVALID_ARG_TYPE", "terms must be an array of tensors");
    const Napi::Array list = info[1].As<Napi::Array>();
    std::vector<TensorArg> terms;
    for (uint32_t t = 0; t < list.Length(); ++t) {
      terms.push_back(parse_tensor(env, list.Get(t), "terms[" + std::to_string(t) + "]"));
      require_same_size(like, terms.back());
    }
    const std::vector<double> coefs = parse_float64_array(info[2], "coefs");
    const int64_t batch = parse_batch(info[3], like.count);
    if (static_cast<int64_t>(coefs.size()) != static_cast<int64_t>(terms.size()) * batch) {
      range_error("ERR_SHAPE_MISMATCH", "coefs must hold terms x B = " + std::to_string(terms.size() * batch) + " numbers");
    }
    Output result = make_output(env, like.dtype, like.shape, like.on_device, Fill::Overwritten);
    Job job;
    for (const TensorArg& t : terms) job.hold(t);
    job.hold(result);
    const int64_t stride = like.count / batch;
    job.compute = [terms, coefs, batch, stride, result, dtype = like.dtype, on_device = like.on_device]() {
      for_dtype(dtype, [&](auto tag) {
        using T = decltype(tag);
        std::vector<const T*> inputs;
        for (const TensorArg& t : terms) inputs.push_back(in<T>(t));
        LS_CALL(on_device, parts_combine<T>, inputs.data(), coefs.data(), static_cast<int64_t>(inputs.size()), batch,
                stride, out<T>(result));
      });
    };
    job.finish = [result](Napi::Env) { return result.js(); };
    return run_job(env, std::move(job), false);
  });
}

/// partsDot(x, y, batch): Float64Array [B] of Σ_{q: x ≠ 0} x·y per instance.
Napi::Value parts_dot_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg x = parse_tensor(env, info[0], "x");
    const TensorArg y = parse_tensor(env, info[1], "y");
    require_same_size(x, y);
    const int64_t batch = parse_batch(info[2], x.count);
    Napi::Float64Array dots = Napi::Float64Array::New(env, static_cast<size_t>(batch));
    auto keep = std::make_shared<Napi::Reference<Napi::Value>>(Napi::Persistent(Napi::Value(dots)));
    double* target = dots.Data();
    Job job;
    job.hold(x);
    job.hold(y);
    job.keep_js.push_back(keep);
    job.compute = [x, y, batch, target]() {
      for_dtype(x.dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(x.on_device, parts_dot<T>, in<T>(x), in<T>(y), batch, x.count / batch, target);
      });
    };
    job.finish = [keep](Napi::Env) { return keep->Value(); };
    return run_job(env, std::move(job), false);
  });
}

/// partsFinite(x): x with −inf entries replaced by 0.
Napi::Value parts_finite_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg x = parse_tensor(env, info[0], "x");
    Output result = make_output(env, x.dtype, x.shape, x.on_device, Fill::Overwritten);
    Job job;
    job.hold(x);
    job.hold(result);
    job.compute = [x, result]() {
      for_dtype(x.dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(x.on_device, parts_finite<T>, in<T>(x), x.count, out<T>(result));
      });
    };
    job.finish = [result](Napi::Env) { return result.js(); };
    return run_job(env, std::move(job), false);
  });
}

/// partsMasked(x, mask): x with −inf wherever mask is −inf.
Napi::Value parts_masked_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg x = parse_tensor(env, info[0], "x");
    const TensorArg mask = parse_tensor(env, info[1], "mask");
    require_same_size(x, mask);
    Output result = make_output(env, x.dtype, x.shape, x.on_device, Fill::Overwritten);
    Job job;
    job.hold(x);
    job.hold(mask);
    job.hold(result);
    job.compute = [x, mask, result]() {
      for_dtype(x.dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(x.on_device, parts_masked<T>, in<T>(x), in<T>(mask), x.count, out<T>(result));
      });
    };
    job.finish = [result](Napi::Env) { return result.js(); };
    return run_job(env, std::move(job), false);
  });
}

/// partsRow(stacked [S, ...], s): row s, shape [...], where the stack lives (device to device on CUDA).
Napi::Value parts_row_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg stacked = parse_tensor(env, info[0], "stacked");
    if (stacked.shape.size() < 2) range_error("ERR_INVALID_SHAPE", "stacked parts need a leading [S] dimension");
    const int64_t s = parse_integer(info[1], "row", 0, stacked.shape[0] - 1);
    const std::vector<int64_t> shape(stacked.shape.begin() + 1, stacked.shape.end());
    const int64_t size = stacked.count / stacked.shape[0];
    Output result = make_output(env, stacked.dtype, shape, stacked.on_device, Fill::Overwritten);
    Job job;
    job.hold(stacked);
    job.hold(result);
    job.compute = [stacked, s, size, result]() {
      for_dtype(stacked.dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(stacked.on_device, parts_copy<T>, in<T>(stacked) + s * size, size, out<T>(result));
      });
    };
    job.finish = [result](Napi::Env) { return result.js(); };
    return run_job(env, std::move(job), false);
  });
}

/// partsConcatRows(blocks: tensor[], rows): [rows, Σ widths], row r the concatenation of every block's row r (each
/// block viewed as [rows, width]), in the blocks' dtype and place (SentCFG's packing on the device).
Napi::Value parts_concat_rows_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) type_error("ERR_INVALID_ARG_TYPE", "blocks must be an array of tensors");
    const Napi::Array list = info[0].As<Napi::Array>();
    if (list.Length() == 0) range_error("ERR_INVALID_SHAPE", "blocks must hold at least one tensor");
    std::vector<TensorArg> blocks;
    for (uint32_t t = 0; t < list.Length(); ++t) {
      blocks.push_back(parse_tensor(env, list.Get(t), "blocks[" + std::to_string(t) + "]"));
      if (t > 0) require_match(blocks[0], blocks.back(), nullptr);
    }
    const int64_t rows = parse_integer(info[1], "rows", 1, int64_t(1) << 31);
    int64_t width = 0;
    for (const TensorArg& b : blocks) {
      if (b.count % rows != 0) range_error("ERR_SHAPE_MISMATCH", b.name + " does not split into rows = " + std::to_string(rows));
      width += b.count / rows;
    }
    Output result = make_output(env, blocks[0].dtype, {rows, width}, blocks[0].on_device, Fill::Overwritten);
    Job job;
    for (const TensorArg& b : blocks) job.hold(b);
    job.hold(result);
    job.compute = [blocks, rows, width, result]() {
      for_dtype(blocks[0].dtype, [&](auto tag) {
        using T = decltype(tag);
        int64_t offset = 0;
        for (const TensorArg& b : blocks) {
          const int64_t w = b.count / rows;
          LS_CALL(b.on_device, parts_copy_block<T>, in<T>(b), w, 0, rows, w, width, offset, out<T>(result));
          offset += w;
        }
      });
    };
    job.finish = [result](Napi::Env) { return result.js(); };
    return run_job(env, std::move(job), false);
  });
}

/// partsSliceRows(x, rows, offset, width): [rows, width], columns offset..offset + width - 1 of x viewed as
/// [rows, stride], where x lives (SentCFG's unpacking on the device).
Napi::Value parts_slice_rows_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg x = parse_tensor(env, info[0], "x");
    const int64_t rows = parse_integer(info[1], "rows", 1, int64_t(1) << 31);
    if (x.count % rows != 0) range_error("ERR_SHAPE_MISMATCH", "x does not split into rows = " + std::to_string(rows));
    const int64_t stride = x.count / rows;
    const int64_t offset = parse_integer(info[2], "offset", 0, stride);
    const int64_t width = parse_integer(info[3], "width", 0, stride - offset);
    Output result = make_output(env, x.dtype, {rows, width}, x.on_device, Fill::Overwritten);
    Job job;
    job.hold(x);
    job.hold(result);
    job.compute = [x, rows, stride, offset, width, result]() {
      for_dtype(x.dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(x.on_device, parts_copy_block<T>, in<T>(x), stride, offset, rows, width, width, 0, out<T>(result));
      });
    };
    job.finish = [result](Napi::Env) { return result.js(); };
    return run_job(env, std::move(job), false);
  });
}

/// partsOneHot(like, positions: Int32Array, shape): zeros of `shape` in like's dtype and place, with 1 at each
/// flat position.
Napi::Value parts_one_hot_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg like = parse_tensor(env, info[0], "like");
    const std::vector<int32_t> positions = parse_int32_array(info[1], "positions");
    int64_t count = 0;
    const std::vector<int64_t> shape = parse_shape(info[2], "shape", &count);
    for (size_t i = 0; i < positions.size(); ++i) {
      if (positions[i] < 0 || positions[i] >= count) {
        range_error("ERR_OUT_OF_RANGE", "positions[" + std::to_string(i) + "] = " + std::to_string(positions[i]) +
                                            " is outside [0, " + std::to_string(count) + ")");
      }
    }
    Output result = make_output(env, like.dtype, shape, like.on_device, Fill::Overwritten);
    Job job;
    job.hold(like);
    job.hold(result);
    job.compute = [positions, count, result, dtype = like.dtype, on_device = like.on_device]() {
      for_dtype(dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(on_device, parts_one_hot<T>, positions.data(), static_cast<int64_t>(positions.size()), count,
                out<T>(result));
      });
    };
    job.finish = [result](Napi::Env) { return result.js(); };
    return run_job(env, std::move(job), false);
  });
}

/// partsTile(from, copies): [copies, ...from's shape], from repeated, where it lives.
Napi::Value parts_tile_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg from = parse_tensor(env, info[0], "from");
    const int64_t copies = parse_integer(info[1], "copies", 1, int64_t(1) << 31);
    std::vector<int64_t> shape{copies};
    shape.insert(shape.end(), from.shape.begin(), from.shape.end());
    if (shape.size() > 8) range_error("ERR_INVALID_SHAPE", "partsTile: at most 7 dimensions");
    int64_t count = 0;
    Napi::Array js_shape = Napi::Array::New(env, shape.size());
    for (size_t i = 0; i < shape.size(); ++i) js_shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(shape[i])));
    parse_shape(js_shape, "shape", &count);  // size and byte-size overflow checks
    Output result = make_output(env, from.dtype, shape, from.on_device, Fill::Overwritten);
    Job job;
    job.hold(from);
    job.hold(result);
    job.compute = [from, copies, result]() {
      for_dtype(from.dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(from.on_device, parts_tile<T>, in<T>(from), from.count, copies, out<T>(result));
      });
    };
    job.finish = [result](Napi::Env) { return result.js(); };
    return run_job(env, std::move(job), false);
  });
}

/// partsSumRows(x [R, ...]): Σ_r x[r, ...], shape [...], where x lives.
Napi::Value parts_sum_rows_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg x = parse_tensor(env, info[0], "x");
    if (x.shape.size() < 2) range_error("ERR_INVALID_SHAPE", "x needs a leading dimension to sum over");
    const std::vector<int64_t> shape(x.shape.begin() + 1, x.shape.end());
    const int64_t rows = x.shape[0];
    Output result = make_output(env, x.dtype, shape, x.on_device, Fill::Overwritten);
    Job job;
    job.hold(x);
    job.hold(result);
    job.compute = [x, rows, result]() {
      for_dtype(x.dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(x.on_device, parts_sum_rows<T>, in<T>(x), rows, x.count / rows, out<T>(result));
      });
    };
    job.finish = [result](Napi::Env) { return result.js(); };
    return run_job(env, std::move(job), false);
  });
}

/// partsSumRowsTransposed(x [R, P, Q]): [Q, P], out[j, i] = Σ_r x[r, i, j] in float64, where x lives.
Napi::Value parts_sum_rows_transposed_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg x = parse_tensor(env, info[0], "x");
    if (x.shape.size() != 3) range_error("ERR_INVALID_SHAPE", "x must have shape [R, P, Q]");
    const int64_t rows = x.shape[0], p = x.shape[1], q = x.shape[2];
    Output result = make_output(env, x.dtype, {q, p}, x.on_device, Fill::Overwritten);
    Job job;
    job.hold(x);
    job.hold(result);
    job.compute = [x, rows, p, q, result]() {
      for_dtype(x.dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(x.on_device, parts_sum_rows_transposed<T>, in<T>(x), rows, p, q, out<T>(result));
      });
    };
    job.finish = [result](Napi::Env) { return result.js(); };
    return run_job(env, std::move(job), false);
  });
}

/// partsGatherSum(x, width, offsets: Int32Array [G + 1], members: Int32Array): [G, width], out[g] = Σ of x's rows
/// members[offsets[g] .. offsets[g + 1]) (x viewed as [rows, width]), in float64, where x lives.
Napi::Value parts_gather_sum_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg x = parse_tensor(env, info[0], "x");
    const int64_t width = parse_integer(info[1], "width", 1, x.count);
    if (x.count % width != 0) range_error("ERR_SHAPE_MISMATCH", "width must divide the number of elements of x");
    const int64_t rows = x.count / width;
    const std::vector<int32_t> offsets = parse_int32_array(info[2], "offsets");
    const std::vector<int32_t> members = parse_int32_array(info[3], "members");
    if (offsets.size() < 2) range_error("ERR_SHAPE_MISMATCH", "offsets must hold G + 1 >= 2 entries");
    const int64_t groups = static_cast<int64_t>(offsets.size()) - 1;
    if (offsets[0] != 0 || offsets.back() != static_cast<int64_t>(members.size())) {
      range_error("ERR_OUT_OF_RANGE", "offsets must start at 0 and end at the number of members");
    }
    for (int64_t g = 0; g < groups; ++g) {
      if (offsets[g + 1] < offsets[g]) range_error("ERR_OUT_OF_RANGE", "offsets must not decrease");
    }
    for (size_t m = 0; m < members.size(); ++m) {
      if (members[m] < 0 || members[m] >= rows) {
        range_error("ERR_OUT_OF_RANGE", "members[" + std::to_string(m) + "] = " + std::to_string(members[m]) +
                                            " is outside [0, " + std::to_string(rows) + ")");
      }
    }
    Output result = make_output(env, x.dtype, {groups, width}, x.on_device, Fill::Overwritten);
    Job job;
    job.hold(x);
    job.hold(result);
    job.compute = [x, width, offsets, groups, members, result]() {
      for_dtype(x.dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(x.on_device, parts_gather_sum<T>, in<T>(x), width, offsets.data(), groups, members.data(),
                static_cast<int64_t>(members.size()), out<T>(result));
      });
    };
    job.finish = [result](Napi::Env) { return result.js(); };
    return run_job(env, std::move(job), false);
  });
}

/// rebarPair(scores [B, K], seed): { perturbed, conditional } (REBAR's Gumbel pair), where the scores live.
Napi::Value rebar_pair_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg scores = parse_rows(env, info[0], "scores");
    const uint64_t seed = parse_seed(info[1], "seed");
    Output perturbed = make_output(env, scores.dtype, scores.shape, scores.on_device, Fill::Overwritten);
    Output conditional = make_output(env, scores.dtype, scores.shape, scores.on_device, Fill::Overwritten);
    Job job;
    job.hold(scores);
    job.hold(perturbed);
    job.hold(conditional);
    job.compute = [scores, seed, perturbed, conditional]() {
      check_scores(scores);
      for_dtype(scores.dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(scores.on_device, rebar_pair<T>, in<T>(scores), scores.shape[0], scores.shape[1], seed,
                out<T>(perturbed), out<T>(conditional));
      });
    };
    job.finish = [perturbed, conditional](Napi::Env env) {
      Napi::Object result = Napi::Object::New(env);
      result.Set("perturbed", perturbed.js());
      result.Set("conditional", conditional.js());
      return Napi::Value(result);
    };
    return run_job(env, std::move(job), false);
  });
}

/// rebarPairBackward(scores [B, K], grad [B, K], seed): the VJP of the conditional draw at fixed noise.
Napi::Value rebar_pair_backward_op(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const TensorArg scores = parse_rows(env, info[0], "scores");
    const TensorArg grad = parse_tensor(env, info[1], "grad");
    require_match(scores, grad, &scores.shape);
    const uint64_t seed = parse_seed(info[2], "seed");
    Output result = make_output(env, scores.dtype, scores.shape, scores.on_device, Fill::Overwritten);
    Job job;
    job.hold(scores);
    job.hold(grad);
    job.hold(result);
    job.compute = [scores, grad, seed, result]() {
      check_scores(scores);
      check_finite(grad);
      for_dtype(scores.dtype, [&](auto tag) {
        using T = decltype(tag);
        LS_CALL(scores.on_device, rebar_pair_backward<T>, in<T>(scores), in<T>(grad), scores.shape[0], scores.shape[1],
                seed, out<T>(result));
      });
    };
    job.finish = [result](Napi::Env) { return result.js(); };
    return run_job(env, std::move(job), false);
  });
}

}  // namespace

void register_parts_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("partsCombine", Napi::Function::New(env, parts_combine_op, "partsCombine"));
  exports.Set("partsDot", Napi::Function::New(env, parts_dot_op, "partsDot"));
  exports.Set("partsFinite", Napi::Function::New(env, parts_finite_op, "partsFinite"));
  exports.Set("partsMasked", Napi::Function::New(env, parts_masked_op, "partsMasked"));
  exports.Set("partsRow", Napi::Function::New(env, parts_row_op, "partsRow"));
  exports.Set("partsOneHot", Napi::Function::New(env, parts_one_hot_op, "partsOneHot"));
  exports.Set("partsConcatRows", Napi::Function::New(env, parts_concat_rows_op, "partsConcatRows"));
  exports.Set("partsSliceRows", Napi::Function::New(env, parts_slice_rows_op, "partsSliceRows"));
  exports.Set("partsTile", Napi::Function::New(env, parts_tile_op, "partsTile"));
  exports.Set("partsSumRows", Napi::Function::New(env, parts_sum_rows_op, "partsSumRows"));
  exports.Set("partsSumRowsTransposed", Napi::Function::New(env, parts_sum_rows_transposed_op, "partsSumRowsTransposed"));
  exports.Set("partsGatherSum", Napi::Function::New(env, parts_gather_sum_op, "partsGatherSum"));
  exports.Set("rebarPair", Napi::Function::New(env, rebar_pair_op, "rebarPair"));
  exports.Set("rebarPairBackward", Napi::Function::New(env, rebar_pair_backward_op, "rebarPairBackward"));
}

}  // namespace binding
}  // namespace ls
