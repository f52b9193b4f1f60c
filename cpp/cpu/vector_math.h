// Vectorized exp and log, and the row reductions the CPU sweeps are built from, for float and double. The code
// is compiled once per instruction set (vector_math_<isa>.cc) and chosen at run time (vector_math.cc) from what
// the CPU has: AVX-512F, AVX2 with FMA, else the architecture's baseline (SSE2 on x86-64, NEON on arm64). A
// prebuilt binary therefore assumes no more than the baseline. LATENT_STRUCT_SIMD=avx512|avx2|baseline picks a
// narrower set (never one the CPU lacks).
//
// Accuracy, in ulps of the exact result, measured by test/native/vector_math.cc over the whole range (78M inputs:
// every 61st float, subnormal inputs and results, the overflow and underflow edges, values near 1, random doubles of
// every exponent) on every instruction set: exp 1.01 (float) and 1.15 (double), log 0.80 (float) and 0.73 (double);
// the test holds them to 1.5 and 1. Special values as libm: exp(-inf) = 0, exp(+inf) = +inf, overflow to +inf,
// log(0) = -inf, log(x < 0) = NaN, NaN in gives NaN out. Sums run over the lanes, so a row's sum may differ from a
// sequential loop's in the last bits; results do not depend on the thread count.
#pragma once
#include <cstdint>

namespace ls {
namespace cpu {
namespace vec {

/// The instruction set in use: "avx512", "avx2" or "baseline".
const char* isa();

/// out[k] = exp(in[k]) for k < n (in may equal out).
void exp(const float* in, float* out, int64_t n);
void exp(const double* in, double* out, int64_t n);
/// out[k] = log(in[k]) for k < n (in may equal out).
void log(const float* in, float* out, int64_t n);
void log(const double* in, double* out, int64_t n);

/// The largest of n values (-inf for n = 0; NaNs are skipped).
float max(const float* in, int64_t n);
double max(const double* in, int64_t n);
/// out[k] = exp(in[k] - shift) (in may equal out); returns the sum of out.
float exp_shifted_sum(const float* in, float shift, float* out, int64_t n);
double exp_shifted_sum(const double* in, double shift, double* out, int64_t n);
/// log sum_k exp(in[k]), shifted by the largest value: -inf when every value is -inf (or n = 0).
float log_sum_exp(const float* in, int64_t n);
double log_sum_exp(const double* in, int64_t n);
/// out[k] *= scale.
void scale(float* out, float scale, int64_t n);
void scale(double* out, double scale, int64_t n);

// ---- Over the rows of a rows x cols row-major matrix m and a vector v of cols values.
/// out[r] = log sum_c exp(v[c] + m[r][c]) (-inf when every sum is -inf).
void log_sum_exp_rows(const float* v, const float* m, int64_t rows, int64_t cols, float* out);
void log_sum_exp_rows(const double* v, const double* m, int64_t rows, int64_t cols, double* out);
/// m_out[r][c] = exp(v[c] + m[r][c] - top[r]), top[r] = max_c v[c] + m[r][c], total[r] = sum_c m_out[r][c]; a row
/// whose sums are all -inf gets zeros, top -inf and total 0. m may equal m_out.
void exp_rows(const float* v, const float* m, int64_t rows, int64_t cols, float* m_out, float* top, float* total);
void exp_rows(const double* v, const double* m, int64_t rows, int64_t cols, double* m_out, double* top, double* total);
/// m[r][c] *= factor[r], then sums[c] = sum_r m[r][c].
void scale_rows_sum_columns(float* m, const float* factor, int64_t rows, int64_t cols, float* sums);
void scale_rows_sum_columns(double* m, const double* factor, int64_t rows, int64_t cols, double* sums);

/// Lanes (the lane charts of CKY and Eisner: row k holds `lanes` values, one per sentence):
/// out[l] = log sum_k exp(a[k lanes + l] + b[k lanes + l]) over k < n (-inf when every sum is -inf).
void log_sum_exp_of_sums_lanes(const float* a, const float* b, int64_t n, int64_t lanes, float* out);
void log_sum_exp_of_sums_lanes(const double* a, const double* b, int64_t n, int64_t lanes, double* out);

/// Terms (the wavefronts of Alignment: `terms` rows of n values, each the sum of a[k][t] and b[k][t], b[k] null for
/// none; 1 <= terms <= 4): out[t] = log sum_k exp(a[k][t] + b[k][t]) (-inf when every sum is -inf), shifted by the
/// largest sum, whose exp (1) is not computed.
void log_sum_exp_terms(const float* const* a, const float* const* b, int64_t terms, int64_t n, float* out);
void log_sum_exp_terms(const double* const* a, const double* const* b, int64_t terms, int64_t n, double* out);
/// out[t] = max_k a[k][t] + b[k][t] (the same terms; each sum rounded as a + b, so exactly a scalar loop's).
void max_terms(const float* const* a, const float* const* b, int64_t terms, int64_t n, float* out);
void max_terms(const double* const* a, const double* const* b, int64_t terms, int64_t n, double* out);
/// out[t] = exp(a[t] + b[t] + c[t] - shift), summed in that order; c null for none.
void exp_of_sums(const float* a, const float* b, const float* c, float shift, int64_t n, float* out);
void exp_of_sums(const double* a, const double* b, const double* c, double shift, int64_t n, double* out);

/// out[q] += sum_{k < terms} coefs[k coef_stride] rows[k stride + q] for q < n, skipping zero coefficients (a
/// transposed matrix-vector product accumulated into out; SentCFG's contractions).
void add_rows(const float* coefs, int64_t coef_stride, const float* rows, int64_t stride, int64_t terms, int64_t n,
              float* out);
void add_rows(const double* coefs, int64_t coef_stride, const double* rows, int64_t stride, int64_t terms, int64_t n,
              double* out);

}  // namespace vec
}  // namespace cpu
}  // namespace ls
