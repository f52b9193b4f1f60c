// The kernels of vector_math.h for one instruction set, written with GCC/Clang vector extensions over
// LS_VEC_BYTES-byte vectors. Each vector_math_<isa>.cc sets its target, defines LS_VEC_BYTES and LS_VEC_ISA (a
// namespace name) and includes this file once; nothing here may call an inline function defined outside it (an
// inline function compiled for a wider target could be picked by the linker for the baseline one).
//
// exp: x = n ln2 + r with n = round(x / ln2), |r| <= ln2/2 (Cody–Waite: ln2 split in two so n ln2 is exact),
// exp(r) by a polynomial (float: Cephes expf's minimax, degree 7; double: Taylor to degree 13, truncation below
// 5e-18), times 2^n as two powers of two 2^(n/2) 2^(n - n/2) so that subnormal results are rounded once.
// log: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(m) by Cephes logf's polynomial (float) or fdlibm's
// log(1 + f) = f - f²/2 + s (f²/2 + R(s²)), s = f / (2 + f) (double), plus e ln2 in two parts.
#pragma once
#include "vector_math_dispatch.h"

#if !defined(LS_VEC_BYTES) || !defined(LS_VEC_ISA)
#error "define LS_VEC_BYTES and LS_VEC_ISA before including vector_math_kernels.h"
#endif

namespace ls {
namespace cpu {
namespace vec {
namespace LS_VEC_ISA {

typedef float VF __attribute__((vector_size(LS_VEC_BYTES)));
typedef int32_t VI __attribute__((vector_size(LS_VEC_BYTES)));
typedef double VD __attribute__((vector_size(LS_VEC_BYTES)));
typedef int64_t VL __attribute__((vector_size(LS_VEC_BYTES)));

template <typename T>
struct Lanes;
template <>
struct Lanes<float> {
  using V = VF;
  using I = VI;
};
template <>
struct Lanes<double> {
  using V = VD;
  using I = VL;
};

template <typename T>
using Vec = typename Lanes<T>::V;
template <typename T>
constexpr int64_t kWidth = LS_VEC_BYTES / sizeof(T);

template <typename T>
static inline Vec<T> splat(T value) {
  return Vec<T>{} + value;
}
template <typename T>
static inline Vec<T> load(const T* p) {
  Vec<T> v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
static inline void store(T* p, Vec<T> v) {
  __builtin_memcpy(p, &v, sizeof v);
}
/// The first `count` (< width) lanes from p, the others `fill`; and the first `count` lanes of v stored to p. With
/// AVX-512 and AVX2, masked loads and stores (they touch no memory past p + count); else lane by lane.
#if LS_VEC_BYTES == 64
static inline VF load_partial(const float* p, int64_t count, float fill) {
  return (VF)_mm512_mask_loadu_ps(_mm512_set1_ps(fill), static_cast<__mmask16>((1u << count) - 1), p);
}
static inline VD load_partial(const double* p, int64_t count, double fill) {
  return (VD)_mm512_mask_loadu_pd(_mm512_set1_pd(fill), static_cast<__mmask8>((1u << count) - 1), p);
}
static inline void store_partial(float* p, VF v, int64_t count) {
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << count) - 1), (__m512)v);
}
static inline void store_partial(double* p, VD v, int64_t count) {
  _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << count) - 1), (__m512d)v);
}
#elif LS_VEC_BYTES == 32 && defined(LS_VEC_AVX2)
static inline VI lanes_below(int64_t count) { return VI{0, 1, 2, 3, 4, 5, 6, 7} < static_cast<int32_t>(count); }
static inline VL lanes_below_double(int64_t count) { return VL{0, 1, 2, 3} < count; }
static inline VF load_partial(const float* p, int64_t count, float fill) {
  const VI mask = lanes_below(count);
  const VF loaded = (VF)_mm256_maskload_ps(p, (__m256i)mask);
  return mask ? loaded : splat(fill);
}
static inline VD load_partial(const double* p, int64_t count, double fill) {
  const VL mask = lanes_below_double(count);
  const VD loaded = (VD)_mm256_maskload_pd(p, (__m256i)mask);
  return mask ? loaded : splat(fill);
}
static inline void store_partial(float* p, VF v, int64_t count) { _mm256_maskstore_ps(p, (__m256i)lanes_below(count), (__m256)v); }
static inline void store_partial(double* p, VD v, int64_t count) {
  _mm256_maskstore_pd(p, (__m256i)lanes_below_double(count), (__m256d)v);
}
#else
template <typename T>
static inline Vec<T> load_partial(const T* p, int64_t count, T fill) {
  T lanes[kWidth<T>];
  for (int64_t k = 0; k < kWidth<T>; ++k) lanes[k] = k < count ? p[k] : fill;
  return load(lanes);
}
template <typename T>
static inline void store_partial(T* p, Vec<T> v, int64_t count) {
  T lanes[kWidth<T>];
  store(lanes, v);
  for (int64_t k = 0; k < count; ++k) p[k] = lanes[k];
}
#endif
/// Horizontal max and sum by halving: the two halves of a vector (register shuffles, no trip through memory)
/// combined lane-wise down to 16 bytes, then the lanes in order.
template <typename T, int kBytes>
struct Halving;
template <typename T>
struct Halving<T, 16> {
  typedef T V __attribute__((vector_size(16)));
  static inline T max(V v) {
    T top = v[0];
    for (int k = 1; k < static_cast<int>(16 / sizeof(T)); ++k) top = v[k] > top ? v[k] : top;
    return top;
  }
  static inline T sum(V v) {
    T total = v[0];
    for (int k = 1; k < static_cast<int>(16 / sizeof(T)); ++k) total += v[k];
    return total;
  }
};
#define LS_VEC_HALVING(T, kBytes, LOW, HIGH)                                               \
  template <>                                                                                \
  struct Halving<T, kBytes> {                                                                \
    typedef T V __attribute__((vector_size(kBytes)));                                        \
    static inline T max(V v) {                                                               \
      const auto low = __builtin_shufflevector(v, v, LOW), high = __builtin_shufflevector(v, v, HIGH); \
      return Halving<T, kBytes / 2>::max(low > high ? low : high);                           \
    }                                                                                        \
    static inline T sum(V v) {                                                               \
      return Halving<T, kBytes / 2>::sum(__builtin_shufflevector(v, v, LOW) + __builtin_shufflevector(v, v, HIGH)); \
    }                                                                                        \
  };
#define LS_COMMA ,
LS_VEC_HALVING(float, 32, 0 LS_COMMA 1 LS_COMMA 2 LS_COMMA 3, 4 LS_COMMA 5 LS_COMMA 6 LS_COMMA 7)
LS_VEC_HALVING(double, 32, 0 LS_COMMA 1, 2 LS_COMMA 3)
LS_VEC_HALVING(float, 64, 0 LS_COMMA 1 LS_COMMA 2 LS_COMMA 3 LS_COMMA 4 LS_COMMA 5 LS_COMMA 6 LS_COMMA 7,
               8 LS_COMMA 9 LS_COMMA 10 LS_COMMA 11 LS_COMMA 12 LS_COMMA 13 LS_COMMA 14 LS_COMMA 15)
LS_VEC_HALVING(double, 64, 0 LS_COMMA 1 LS_COMMA 2 LS_COMMA 3, 4 LS_COMMA 5 LS_COMMA 6 LS_COMMA 7)
#undef LS_COMMA
#undef LS_VEC_HALVING

template <typename T>
static inline T horizontal_sum(Vec<T> v) {
  return Halving<T, LS_VEC_BYTES>::sum(v);
}
template <typename T>
static inline T horizontal_max(Vec<T> v) {
  return Halving<T, LS_VEC_BYTES>::max(v);
}
template <typename T>
static inline Vec<T> vmax(Vec<T> a, Vec<T> b) {
  return a > b ? a : b;
}

static inline VF exp_lanes(VF x) {
  const VF low = splat(-104.0f), high = splat(89.0f);  // exp(-104) < half the least subnormal; exp(89) > FLT_MAX
  VF clamped = x < low ? low : x;
  clamped = clamped > high ? high : clamped;
  const VF magic = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer kept in the low bits
  const VF shifted = clamped * 1.44269504088896341f + magic;
  const VF n = shifted - magic;
  const VI exponent = (VI)shifted - (VI)magic;
  VF r = clamped - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  const VF r2 = r * r;
  VF p = splat(1.9875691500E-4f);
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * r2 + r + 1.0f;
  const VI half = exponent >> 1;
  const VF scale_a = (VF)((half + 127) << 23);
  const VF scale_b = (VF)((exponent - half + 127) << 23);
  const VF y = p * scale_a * scale_b;
  return x != x ? x : y;
}

static inline VD exp_lanes(VD x) {
  const VD low = splat(-746.0), high = splat(710.0);
  VD clamped = x < low ? low : x;
  clamped = clamped > high ? high : clamped;
  const VD magic = splat(6755399441055744.0);  // 1.5 * 2^52
  const VD shifted = clamped * 1.4426950408889634074 + magic;
  const VD n = shifted - magic;
  const VL exponent = (VL)shifted - (VL)magic;
  VD r = clamped - n * 6.93147180369123816490e-01;
  r = r - n * 1.90821492927058770002e-10;
  // 1 + r + r²/2! + ... + r^13/13!
  VD p = splat(1.0 / 6227020800.0);
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const VL half = exponent >> 1;
  const VD scale_a = (VD)((half + 1023) << 52);
  const VD scale_b = (VD)((exponent - half + 1023) << 52);
  const VD y = p * scale_a * scale_b;
  return x != x ? x : y;
}

static inline VF log_lanes(VF x) {
  const VF min_normal = splat(1.17549435e-38f);
  const VI subnormal = x < min_normal;  // -1 where true (also for x <= 0, fixed below)
  const VF normal = subnormal ? x * 8388608.0f : x;  // * 2^23
  const VI bits = (VI)normal;
  VI exponent = ((bits >> 23) & 0xff) - 126 + (subnormal & -23);
  VF m = (VF)((bits & 0x007fffff) | 0x3f000000);  // in [1/2, 1)
  const VI small = m < 0.707106781186547524f;
  exponent += small;  // small is -1: m doubled below
  const VF f = (small ? m + m : m) - 1.0f;
  const VF f2 = f * f;
  VF p = splat(7.0376836292E-2f);
  p = p * f - 1.1514610310E-1f;
  p = p * f + 1.1676998740E-1f;
  p = p * f - 1.2420140846E-1f;
  p = p * f + 1.4249322787E-1f;
  p = p * f - 1.6668057665E-1f;
  p = p * f + 2.0000714765E-1f;
  p = p * f - 2.4999993993E-1f;
  p = p * f + 3.3333331174E-1f;
  const VF e = __builtin_convertvector(exponent, VF);
  VF y = p * f * f2;
  y = y + e * -2.12194440e-4f;
  y = y - 0.5f * f2;
  VF result = f + y + e * 0.693359375f;
  const VF inf = splat(__builtin_inff());
  result = x == 0.0f ? -inf : result;
  result = x < 0.0f ? splat(__builtin_nanf("")) : result;
  result = x == inf ? inf : result;
  return x != x ? x : result;
}

static inline VD log_lanes(VD x) {
  const VD min_normal = splat(2.2250738585072014e-308);
  const VL subnormal = x < min_normal;
  const VD normal = subnormal ? x * 18014398509481984.0 : x;  // * 2^54
  const VL bits = (VL)normal;
  VL exponent = ((bits >> 52) & 0x7ff) - 1023 + (subnormal & -54);
  VD m = (VD)((bits & 0x000fffffffffffffLL) | 0x3ff0000000000000LL);  // in [1, 2)
  const VL big = m > 1.41421356237309504880;
  exponent -= big;  // big is -1: m halved below
  const VD f = (big ? m * 0.5 : m) - 1.0;
  const VD s = f / (2.0 + f);
  const VD z = s * s;
  const VD w = z * z;
  const VD t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
  const VD t2 = z * (6.666666666666735130e-01 +
                     w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
  const VD r = t1 + t2;
  const VD half_f2 = 0.5 * f * f;
  const VD magic = splat(6755399441055744.0);
  const VD e = (VD)(exponent + (VL)magic) - magic;  // int64 -> double without a conversion instruction
  VD result = e * 6.93147180369123816490e-01 - ((half_f2 - (s * (half_f2 + r) + e * 1.90821492927058770002e-10)) - f);
  const VD inf = splat(__builtin_inf());
  result = x == 0.0 ? -inf : result;
  result = x < 0.0 ? splat(__builtin_nan("")) : result;
  result = x == inf ? inf : result;
  return x != x ? x : result;
}

template <typename T>
static void exp_array(const T* in, T* out, int64_t n) {
  constexpr int64_t W = kWidth<T>;
  int64_t k = 0;
  for (; k + W <= n; k += W) store(out + k, exp_lanes(load(in + k)));
  if (k < n) store_partial(out + k, exp_lanes(load_partial(in + k, n - k, T(0))), n - k);
}

template <typename T>
static void log_array(const T* in, T* out, int64_t n) {
  constexpr int64_t W = kWidth<T>;
  int64_t k = 0;
  for (; k + W <= n; k += W) store(out + k, log_lanes(load(in + k)));
  if (k < n) store_partial(out + k, log_lanes(load_partial(in + k, n - k, T(1))), n - k);
}

template <typename T>
static T max_array(const T* in, int64_t n) {
  constexpr int64_t W = kWidth<T>;
  const T neg_inf = -__builtin_inf();
  Vec<T> top = splat(neg_inf);
  int64_t k = 0;
  for (; k + W <= n; k += W) top = vmax<T>(load(in + k), top);
  if (k < n) top = vmax<T>(load_partial(in + k, n - k, neg_inf), top);
  return horizontal_max<T>(top);
}

template <typename T>
static T exp_shifted_sum_array(const T* in, T shift, T* out, int64_t n) {
  constexpr int64_t W = kWidth<T>;
  Vec<T> total{};
  int64_t k = 0;
  for (; k + W <= n; k += W) {
    const Vec<T> e = exp_lanes(load(in + k) - shift);
    store(out + k, e);
    total += e;
  }
  if (k < n) {
    const T neg_inf = -__builtin_inf();
    const Vec<T> e = exp_lanes(load_partial(in + k, n - k, neg_inf) - shift);  // exp(-inf) = 0 in unused lanes
    store_partial(out + k, e, n - k);
    total += e;
  }
  return horizontal_sum<T>(total);
}

template <typename T>
static T log_sum_exp_array(const T* in, int64_t n) {
  constexpr int64_t W = kWidth<T>;
  const T top = max_array(in, n);
  if (top == -__builtin_inf()) return top;
  Vec<T> total{};
  int64_t k = 0;
  for (; k + W <= n; k += W) total += exp_lanes(load(in + k) - top);
  if (k < n) total += exp_lanes(load_partial(in + k, n - k, T(-__builtin_inf())) - top);
  return top + log_lanes(splat(horizontal_sum<T>(total)))[0];
}

/// max_c v[c] + row[c] (-inf when every sum is -inf).
template <typename T>
static inline T max_of_sums(const T* v, const T* row, int64_t cols) {
  constexpr int64_t W = kWidth<T>;
  const T neg_inf = -__builtin_inf();
  Vec<T> top = splat(neg_inf);
  int64_t k = 0;
  for (; k + W <= cols; k += W) top = vmax<T>(load(v + k) + load(row + k), top);
  if (k < cols) top = vmax<T>(load_partial(v + k, cols - k, neg_inf) + load_partial(row + k, cols - k, T(0)), top);
  return horizontal_max<T>(top);
}

/// sum_c exp(v[c] + row[c] - top) for a finite top; with `out`, also stores the exps there.
template <typename T, bool kStore>
static inline T sum_of_shifted_exps(const T* v, const T* row, int64_t cols, T top, T* out) {
  constexpr int64_t W = kWidth<T>;
  Vec<T> total{};
  int64_t k = 0;
  for (; k + W <= cols; k += W) {
    const Vec<T> e = exp_lanes(load(v + k) + load(row + k) - top);
    if (kStore) store(out + k, e);
    total += e;
  }
  if (k < cols) {
    const Vec<T> e = exp_lanes(load_partial(v + k, cols - k, T(-__builtin_inf())) + load_partial(row + k, cols - k, T(0)) - top);
    if (kStore) store_partial(out + k, e, cols - k);
    total += e;
  }
  return horizontal_sum<T>(total);
}

// The row kernels below go over the rows twice, first for every row's largest sum, then for its exps: each pass's
// rows are independent, so the CPU overlaps them instead of waiting on one short row's max, then its exps.

/// out[r] = log sum_c exp(v[c] + m[r][c]) for every row of the rows x cols matrix m (-inf when every sum is
/// -inf): the chain's forward messages. The logs are taken a vector of rows at a time.
template <typename T>
static void log_sum_exp_rows_array(const T* v, const T* m, int64_t rows, int64_t cols, T* out) {
  constexpr int64_t kChunk = 64;
  const T neg_inf = -__builtin_inf();
  T tops[kChunk], sums[kChunk];
  for (int64_t first = 0; first < rows; first += kChunk) {
    const int64_t count = rows - first < kChunk ? rows - first : kChunk;
    const T* block = m + first * cols;
    for (int64_t r = 0; r < count; ++r) tops[r] = max_of_sums(v, block + r * cols, cols);
    for (int64_t r = 0; r < count; ++r) {
      sums[r] = tops[r] == neg_inf ? T(0) : sum_of_shifted_exps<T, false>(v, block + r * cols, cols, tops[r], nullptr);
    }
    log_array(sums, sums, count);
    for (int64_t r = 0; r < count; ++r) out[first + r] = tops[r] == neg_inf ? neg_inf : tops[r] + sums[r];
  }
}

/// m_out[r][c] = exp(v[c] + m[r][c] - top[r]) with top[r] the row's largest sum, total[r] the row's sum of m_out
/// (zeros, -inf and 0 for a row whose sums are all -inf). m may equal m_out.
template <typename T>
static void exp_rows_array(const T* v, const T* m, int64_t rows, int64_t cols, T* m_out, T* top, T* total) {
  const T neg_inf = -__builtin_inf();
  for (int64_t r = 0; r < rows; ++r) top[r] = max_of_sums(v, m + r * cols, cols);
  for (int64_t r = 0; r < rows; ++r) {
    T* out = m_out + r * cols;
    if (top[r] == neg_inf) {
      for (int64_t c = 0; c < cols; ++c) out[c] = 0;
      total[r] = 0;
    } else {
      total[r] = sum_of_shifted_exps<T, true>(v, m + r * cols, cols, top[r], out);
    }
  }
}

/// out[l] = log sum_k exp(a[k lanes + l] + b[k lanes + l]) for every lane l < lanes (-inf when every sum is -inf):
/// a vector of lanes at a time, twice over the rows (max, then exps of the recomputed sums), nothing stored between.
template <typename T>
static void log_sum_exp_of_sums_lanes_array(const T* a, const T* b, int64_t n, int64_t lanes, T* out) {
  constexpr int64_t W = kWidth<T>;
  const T neg_inf = -__builtin_inf();
  for (int64_t l = 0; l < lanes; l += W) {
    const int64_t count = lanes - l < W ? lanes - l : W;
    const auto sum_at = [&](int64_t k) {
      const T* pa = a + k * lanes + l;
      const T* pb = b + k * lanes + l;
      return count == W ? load(pa) + load(pb) : load_partial(pa, count, neg_inf) + load_partial(pb, count, T(0));
    };
    Vec<T> top = splat(neg_inf);
    for (int64_t k = 0; k < n; ++k) top = vmax<T>(sum_at(k), top);
    const auto empty = top == neg_inf;
    const Vec<T> shift = empty ? splat(T(0)) : top;
    Vec<T> total{};
    for (int64_t k = 0; k < n; ++k) total += exp_lanes(sum_at(k) - shift);
    const Vec<T> result = empty ? top : shift + log_lanes(total);
    if (count == W) {
      store(out + l, result);
    } else {
      store_partial(out + l, result, count);
    }
  }
}

/// m[r][c] *= factor[r], then sums[c] = sum_r m[r][c].
template <typename T>
static void scale_rows_sum_columns_array(T* m, const T* factor, int64_t rows, int64_t cols, T* sums) {
  constexpr int64_t W = kWidth<T>;
  for (int64_t c = 0; c < cols; ++c) sums[c] = 0;
  for (int64_t r = 0; r < rows; ++r) {
    T* row = m + r * cols;
    const T f = factor[r];
    int64_t k = 0;
    for (; k + W <= cols; k += W) {
      const Vec<T> scaled = load(row + k) * f;
      store(row + k, scaled);
      store(sums + k, load(sums + k) + scaled);
    }
    for (; k < cols; ++k) {
      row[k] *= f;
      sums[k] += row[k];
    }
  }
}

/// out[q] += sum_{k < terms} coefs[k coef_stride] rows[k stride + q] for q < n (terms with a zero coefficient
/// skipped): four vectors of outputs held in registers while the rows stream by.
template <typename T>
static void add_rows_array(const T* coefs, int64_t coef_stride, const T* rows, int64_t stride, int64_t terms, int64_t n,
                           T* out) {
  constexpr int64_t W = kWidth<T>;
  int64_t q = 0;
  for (; q + 4 * W <= n; q += 4 * W) {
    Vec<T> a0 = load(out + q), a1 = load(out + q + W), a2 = load(out + q + 2 * W), a3 = load(out + q + 3 * W);
    for (int64_t k = 0; k < terms; ++k) {
      const T coef = coefs[k * coef_stride];
      if (coef == T(0)) continue;
      const Vec<T> c = splat(coef);
      const T* r = rows + k * stride + q;
      a0 += c * load(r);
      a1 += c * load(r + W);
      a2 += c * load(r + 2 * W);
      a3 += c * load(r + 3 * W);
    }
    store(out + q, a0);
    store(out + q + W, a1);
    store(out + q + 2 * W, a2);
    store(out + q + 3 * W, a3);
  }
  for (; q + W <= n; q += W) {
    Vec<T> a = load(out + q);
    for (int64_t k = 0; k < terms; ++k) {
      const T coef = coefs[k * coef_stride];
      if (coef != T(0)) a += splat(coef) * load(rows + k * stride + q);
    }
    store(out + q, a);
  }
  for (; q < n; ++q) {
    T a = out[q];
    for (int64_t k = 0; k < terms; ++k) {
      const T coef = coefs[k * coef_stride];
      if (coef != T(0)) a += coef * rows[k * stride + q];
    }
    out[q] = a;
  }
}

template <typename T>
static void scale_array(T* out, T factor, int64_t n) {
  constexpr int64_t W = kWidth<T>;
  int64_t k = 0;
  for (; k + W <= n; k += W) store(out + k, load(out + k) * factor);
  for (; k < n; ++k) out[k] *= factor;
}

/// Term k of the *_terms kernels at t..t + count - 1: a[k] + b[k] (a[k] alone when b[k] is null), -inf past count.
template <typename T>
static inline Vec<T> term_at(const T* a, const T* b, int64_t t, int64_t count) {
  constexpr int64_t W = kWidth<T>;
  if (count == W) return b ? load(a + t) + load(b + t) : load(a + t);
  const Vec<T> x = load_partial(a + t, count, T(-__builtin_inf()));
  return b ? x + load_partial(b + t, count, T(0)) : x;
}
template <typename T>
static inline Vec<T> vmin(Vec<T> a, Vec<T> b) {
  return a < b ? a : b;
}
template <typename T>
static inline void store_count(T* p, Vec<T> v, int64_t count) {
  if (count == kWidth<T>) {
    store(p, v);
  } else {
    store_partial(p, v, count);
  }
}

/// out[t] = log sum_k exp(a[k][t] + b[k][t]) over K terms: the largest term found by a sorting network, which also
/// yields the K - 1 others, so that only their exps are taken (the largest contributes exactly 1).
template <typename T, int K>
static void log_sum_exp_terms_k(const T* const* a, const T* const* b, int64_t n, T* out) {
  constexpr int64_t W = kWidth<T>;
  const T neg_inf = -__builtin_inf();
  for (int64_t t = 0; t < n; t += W) {
    const int64_t count = n - t < W ? n - t : W;
    Vec<T> x[K];
    for (int k = 0; k < K; ++k) x[k] = term_at(a[k], b[k], t, count);
    if constexpr (K == 1) {
      store_count(out + t, x[0], count);
      continue;
    }
    Vec<T> top, rest[K - 1 > 0 ? K - 1 : 1];
    if constexpr (K == 2) {
      top = vmax<T>(x[0], x[1]);
      rest[0] = vmin<T>(x[0], x[1]);
    } else if constexpr (K == 3) {
      const Vec<T> high = vmax<T>(x[0], x[1]);
      rest[0] = vmin<T>(x[0], x[1]);
      top = vmax<T>(high, x[2]);
      rest[1] = vmin<T>(high, x[2]);
    } else {
      const Vec<T> high01 = vmax<T>(x[0], x[1]), high23 = vmax<T>(x[2], x[3]);
      rest[0] = vmin<T>(x[0], x[1]);
      rest[1] = vmin<T>(x[2], x[3]);
      top = vmax<T>(high01, high23);
      rest[2] = vmin<T>(high01, high23);
    }
    const auto empty = top == neg_inf;
    const Vec<T> shift = empty ? splat(T(0)) : top;
    Vec<T> total = splat(T(1));
    for (int k = 0; k < K - 1; ++k) total += exp_lanes(rest[k] - shift);
    store_count(out + t, empty ? top : top + log_lanes(total), count);
  }
}

template <typename T>
static void log_sum_exp_terms_array(const T* const* a, const T* const* b, int64_t terms, int64_t n, T* out) {
  switch (terms) {
    case 1: return log_sum_exp_terms_k<T, 1>(a, b, n, out);
    case 2: return log_sum_exp_terms_k<T, 2>(a, b, n, out);
    case 3: return log_sum_exp_terms_k<T, 3>(a, b, n, out);
    default: return log_sum_exp_terms_k<T, 4>(a, b, n, out);
  }
}

template <typename T, int K>
static void max_terms_k(const T* const* a, const T* const* b, int64_t n, T* out) {
  constexpr int64_t W = kWidth<T>;
  for (int64_t t = 0; t < n; t += W) {
    const int64_t count = n - t < W ? n - t : W;
    Vec<T> top = term_at(a[0], b[0], t, count);
    for (int k = 1; k < K; ++k) top = vmax<T>(top, term_at(a[k], b[k], t, count));
    store_count(out + t, top, count);
  }
}

template <typename T>
static void max_terms_array(const T* const* a, const T* const* b, int64_t terms, int64_t n, T* out) {
  switch (terms) {
    case 1: return max_terms_k<T, 1>(a, b, n, out);
    case 2: return max_terms_k<T, 2>(a, b, n, out);
    case 3: return max_terms_k<T, 3>(a, b, n, out);
    default: return max_terms_k<T, 4>(a, b, n, out);
  }
}

/// out[t] = exp(a[t] + b[t] + c[t] - shift) (c null: none).
template <typename T>
static void exp_of_sums_array(const T* a, const T* b, const T* c, T shift, int64_t n, T* out) {
  constexpr int64_t W = kWidth<T>;
  int64_t t = 0;
  if (c) {
    for (; t + W <= n; t += W) store(out + t, exp_lanes(load(a + t) + load(b + t) + load(c + t) - shift));
  } else {
    for (; t + W <= n; t += W) store(out + t, exp_lanes(load(a + t) + load(b + t) - shift));
  }
  if (t < n) {
    const int64_t count = n - t;
    Vec<T> x = load_partial(a + t, count, T(0)) + load_partial(b + t, count, T(0));
    if (c) x += load_partial(c + t, count, T(0));
    store_partial(out + t, exp_lanes(x - shift), count);
  }
}

const Kernels kernels = {
    LS_VEC_ISA_NAME,
    exp_array<float>,
    exp_array<double>,
    log_array<float>,
    log_array<double>,
    max_array<float>,
    max_array<double>,
    exp_shifted_sum_array<float>,
    exp_shifted_sum_array<double>,
    log_sum_exp_array<float>,
    log_sum_exp_array<double>,
    scale_array<float>,
    scale_array<double>,
    log_sum_exp_rows_array<float>,
    log_sum_exp_rows_array<double>,
    exp_rows_array<float>,
    exp_rows_array<double>,
    scale_rows_sum_columns_array<float>,
    scale_rows_sum_columns_array<double>,
    log_sum_exp_of_sums_lanes_array<float>,
    log_sum_exp_of_sums_lanes_array<double>,
    log_sum_exp_terms_array<float>,
    log_sum_exp_terms_array<double>,
    max_terms_array<float>,
    max_terms_array<double>,
    exp_of_sums_array<float>,
    exp_of_sums_array<double>,
    add_rows_array<float>,
    add_rows_array<double>,
};

}  // namespace LS_VEC_ISA
}  // namespace vec
}  // namespace cpu
}  // namespace ls
