// Test program of cpp/cpu/vector_math: built with the addon's own kernel sources and run by
// test/vector_math.test.ts. For every instruction set this CPU has, it measures the largest error in ulps
// (fractional) of exp and log against a more precise reference (float: the C library's double exp/log, rounded
// error below 1e-9 ulp of a float; double: long double expl/logl) over the whole range: a dense sweep of float
// bit patterns, subnormal inputs and results, the overflow and underflow edges, values near 1, and random
// doubles of every exponent. It checks the special values exactly and the row reductions against plain loops
// at every length up to a few vector widths. Prints one JSON object; "failures" lists what was wrong.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../../cpp/cpu/vector_math_dispatch.h"

namespace {

using ls::cpu::vec::Kernels;

std::vector<std::string> failures;

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

float float_of(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
double double_of(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

/// |y - reference| in units of the float spacing at the reference (subnormal spacing below FLT_MIN).
double ulps(float y, long double reference) {
  if (std::isnan(y) || std::isnan(static_cast<double>(reference))) return std::isnan(y) == std::isnan(static_cast<double>(reference)) ? 0 : 1e30;
  if (std::isinf(y) || reference > FLT_MAX || reference < -FLT_MAX) {
    // Overflow: +inf is right when the rounded reference overflows.
    return static_cast<float>(reference) == y ? 0 : 1e30;
  }
  int exponent;
  std::frexp(static_cast<double>(reference), &exponent);
  const double spacing = std::ldexp(1.0, std::max(exponent, -125) - 24);
  return static_cast<double>(std::fabs(static_cast<long double>(y) - reference)) / spacing;
}
double ulps(double y, long double reference) {
  if (std::isnan(y) || std::isnan(static_cast<double>(reference))) return std::isnan(y) == std::isnan(static_cast<double>(reference)) ? 0 : 1e30;
  if (std::isinf(y) || reference > DBL_MAX || reference < -DBL_MAX) return static_cast<double>(reference) == y ? 0 : 1e30;
  int exponent;
  std::frexp(static_cast<double>(reference), &exponent);
  const long double spacing = std::ldexp(1.0L, std::max(exponent, -1021) - 53);
  return static_cast<double>(std::fabs(static_cast<long double>(y) - reference) / spacing);
}

struct Worst {
  double ulps = 0;
  double input = 0;
  void see(double error, double x) {
    if (error > ulps) {
      ulps = error;
      input = x;
    }
  }
};

long double reference_exp(float x) { return std::exp(static_cast<double>(x)); }
long double reference_log(float x) { return std::log(static_cast<double>(x)); }
long double reference_exp(double x) { return expl(static_cast<long double>(x)); }
long double reference_log(double x) { return logl(static_cast<long double>(x)); }

template <typename T>
void run_exp(const Kernels& k, const T* in, T* out, int64_t n) {
  if constexpr (sizeof(T) == 4) k.exp_float(in, out, n); else k.exp_double(in, out, n);
}
template <typename T>
void run_log(const Kernels& k, const T* in, T* out, int64_t n) {
  if constexpr (sizeof(T) == 4) k.log_float(in, out, n); else k.log_double(in, out, n);
}

template <typename T, bool kLog>
Worst measure(const Kernels& k, const std::vector<T>& inputs) {
  std::vector<T> out(inputs.size());
  if (kLog) run_log(k, inputs.data(), out.data(), static_cast<int64_t>(inputs.size()));
  else run_exp(k, inputs.data(), out.data(), static_cast<int64_t>(inputs.size()));
  Worst worst;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const long double reference = kLog ? reference_log(inputs[i]) : reference_exp(inputs[i]);
    worst.see(ulps(out[i], reference), static_cast<double>(inputs[i]));
  }
  return worst;
}

std::vector<float> float_exp_inputs() {
  std::vector<float> v;
  // Every 61st float bit pattern in [-110, 95] (both signs), and the edges densely.
  for (uint64_t bits = 0; bits < 0x80000000ULL; bits += 61) {
    const float x = float_of(static_cast<uint32_t>(bits));
    if (x <= 95.0f) v.push_back(x);
    if (x <= 110.0f) v.push_back(-x);
  }
  for (float edge : {88.0f, 88.72283935546875f, -87.33654022216797f, -103.2789306640625f, -103.97208404541016f}) {
    float x = edge;
    for (int i = 0; i < 20000; ++i) {
      v.push_back(x);
      x = std::nextafter(x, 200.0f);
    }
  }
  return v;
}

std::vector<float> float_log_inputs() {
  std::vector<float> v;
  for (uint64_t bits = 1; bits < 0x7f800000ULL; bits += 61) v.push_back(float_of(static_cast<uint32_t>(bits)));
  for (uint32_t bits = 1; bits < 0x00800000u; bits += 997) v.push_back(float_of(bits));  // subnormals
  float x = 0.9f;
  for (int i = 0; i < 3000000 && x < 1.1f; ++i) {
    v.push_back(x);
    x = std::nextafter(x, 2.0f);
  }
  return v;
}

std::vector<double> double_exp_inputs() {
  std::vector<double> v;
  uint64_t state = 1;
  for (int i = 0; i < 1500000; ++i) {
    const double u = static_cast<double>(splitmix64(state) >> 11) * 0x1p-53;
    v.push_back(-750.0 + u * 1465.0);
  }
  for (int i = 0; i < 300000; ++i) {  // small arguments of every exponent
    const double u = static_cast<double>(splitmix64(state) >> 11) * 0x1p-53;
    v.push_back((i & 1 ? 1 : -1) * std::ldexp(1.0 + u, -static_cast<int>(splitmix64(state) % 60)));
  }
  for (double edge : {709.0, 709.782712893384, -708.3964185322641, -744.4400719213812, -745.1332191019411}) {
    double x = edge;
    for (int i = 0; i < 20000; ++i) {
      v.push_back(x);
      x = std::nextafter(x, 800.0);
    }
  }
  return v;
}

std::vector<double> double_log_inputs() {
  std::vector<double> v;
  uint64_t state = 2;
  for (int i = 0; i < 1500000; ++i) v.push_back(double_of((splitmix64(state) >> 1) % 0x7ff0000000000000ULL + 1));
  for (int i = 0; i < 200000; ++i) v.push_back(double_of(splitmix64(state) % 0x0010000000000000ULL + 1));  // subnormal
  for (int i = 0; i < 300000; ++i) {
    const double u = static_cast<double>(splitmix64(state) >> 11) * 0x1p-53;
    v.push_back(0.75 + 0.5 * u);
  }
  return v;
}

template <typename T>
void check_specials(const Kernels& k) {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  const std::string isa = k.name;
  const std::string type = sizeof(T) == 4 ? "float" : "double";
  const T exp_in[] = {-inf, inf, nan, T(0), T(-0.0), T(1e6), T(-1e6), T(2000), T(-2000)};
  const T exp_want[] = {T(0), inf, nan, T(1), T(1), inf, T(0), inf, T(0)};
  const T log_in[] = {T(0), T(-0.0), T(-1), -inf, inf, nan, T(1), std::numeric_limits<T>::denorm_min()};
  const T log_want[] = {-inf, -inf, nan, nan, inf, nan, T(0), std::log(std::numeric_limits<T>::denorm_min())};
  constexpr int ne = sizeof(exp_in) / sizeof(T), nl = sizeof(log_in) / sizeof(T);
  T out[16];
  run_exp(k, exp_in, out, ne);
  for (int i = 0; i < ne; ++i) {
    const bool same = std::isnan(exp_want[i]) ? std::isnan(out[i]) : out[i] == exp_want[i];
    if (!same) failures.push_back(isa + " " + type + " exp(" + std::to_string(exp_in[i]) + ") = " + std::to_string(out[i]));
  }
  run_log(k, log_in, out, nl);
  for (int i = 0; i < nl; ++i) {
    const bool same = std::isnan(log_want[i]) ? std::isnan(out[i]) : out[i] == log_want[i];
    if (!same) failures.push_back(isa + " " + type + " log(" + std::to_string(log_in[i]) + ") = " + std::to_string(out[i]));
  }
}

/// The row reductions against plain loops at every length up to 40, with -inf entries and all--inf rows.
template <typename T>
void check_rows(const Kernels& k) {
  const std::string where = std::string(k.name) + (sizeof(T) == 4 ? " float" : " double");
  const T neg_inf = -std::numeric_limits<T>::infinity();
  const T tolerance = sizeof(T) == 4 ? T(3e-6) : T(1e-14);
  uint64_t state = 3;
  for (int64_t n = 0; n <= 40; ++n) {
    for (int pattern = 0; pattern < 3; ++pattern) {
      std::vector<T> a(n), b(n), out(n);
      for (int64_t i = 0; i < n; ++i) {
        a[i] = static_cast<T>(static_cast<double>(splitmix64(state) % 20000) / 1000.0 - 10.0);
        b[i] = static_cast<T>(static_cast<double>(splitmix64(state) % 20000) / 1000.0 - 10.0);
        if (pattern == 1 && i % 3 == 0) a[i] = neg_inf;
        if (pattern == 2) a[i] = neg_inf;
      }
      T top = neg_inf;
      for (int64_t i = 0; i < n; ++i) top = std::max(top, a[i]);
      const T got_max = sizeof(T) == 4 ? T(k.max_float(reinterpret_cast<const float*>(a.data()), n))
                                       : T(k.max_double(reinterpret_cast<const double*>(a.data()), n));
      if (got_max != top) failures.push_back(where + " max wrong at n=" + std::to_string(n));
      long double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<long double>(a[i]) - top);
      const long double lse = top == neg_inf ? neg_inf : top + std::log(sum);
      T got_lse, got_sum;
      if constexpr (sizeof(T) == 4) {
        got_lse = k.log_sum_exp_float(a.data(), n);
        got_sum = top == neg_inf ? T(0) : k.exp_shifted_sum_float(a.data(), top, out.data(), n);
      } else {
        got_lse = k.log_sum_exp_double(a.data(), n);
        got_sum = top == neg_inf ? T(0) : k.exp_shifted_sum_double(a.data(), top, out.data(), n);
      }
      const auto close = [&](long double want, T got) {
        if (want == neg_inf) return got == neg_inf;
        return std::fabs(static_cast<long double>(got) - want) <= tolerance * (1 + std::fabs(want));
      };
      if (!close(lse, got_lse)) failures.push_back(where + " log_sum_exp wrong at n=" + std::to_string(n));
      if (top != neg_inf) {
        if (!close(sum, got_sum)) failures.push_back(where + " exp_shifted_sum wrong at n=" + std::to_string(n));
        for (int64_t i = 0; i < n; ++i) {
          if (!close(std::exp(static_cast<long double>(a[i]) - top), out[i])) {
            failures.push_back(where + " exp_shifted_sum stored wrong at n=" + std::to_string(n));
          }
        }
      }
      std::vector<T> scaled = b;
      if constexpr (sizeof(T) == 4) k.scale_float(scaled.data(), T(0.5), n); else k.scale_double(scaled.data(), T(0.5), n);
      for (int64_t i = 0; i < n; ++i) {
        if (scaled[i] != b[i] * T(0.5)) failures.push_back(where + " scale wrong at n=" + std::to_string(n));
      }
    }
  }
}

/// The matrix kernels against plain loops: every rows x cols up to 37 x 37 (step 4 or so), -inf entries and
/// all--inf rows.
template <typename T>
void check_matrix(const Kernels& k) {
  const std::string where = std::string(k.name) + (sizeof(T) == 4 ? " float" : " double");
  const T neg_inf = -std::numeric_limits<T>::infinity();
  const T tolerance = sizeof(T) == 4 ? T(3e-6) : T(1e-14);
  const auto close = [&](long double want, T got) {
    if (want == neg_inf) return got == neg_inf;
    return std::fabs(static_cast<long double>(got) - want) <= tolerance * (1 + std::fabs(want));
  };
  uint64_t state = 4;
  for (int64_t rows = 1; rows <= 37; rows += 4) {
    for (int64_t cols = 1; cols <= 37; cols += 3) {
      std::vector<T> v(cols), m(rows * cols), out(rows), top(rows), total(rows), exps(rows * cols), factor(rows), sums(cols);
      for (auto& x : v) x = static_cast<T>(static_cast<double>(splitmix64(state) % 20000) / 1000.0 - 10.0);
      for (auto& x : m) x = static_cast<T>(static_cast<double>(splitmix64(state) % 20000) / 1000.0 - 10.0);
      for (auto& x : factor) x = static_cast<T>(static_cast<double>(splitmix64(state) % 1000) / 500.0);
      v[0] = neg_inf;
      for (int64_t c = 0; c < cols; ++c) m[c] = neg_inf;  // row 0: every sum -inf
      if (rows > 1) m[cols + cols / 2] = neg_inf;
      if constexpr (sizeof(T) == 4) {
        k.log_sum_exp_rows_float(v.data(), m.data(), rows, cols, out.data());
        k.exp_rows_float(v.data(), m.data(), rows, cols, exps.data(), top.data(), total.data());
      } else {
        k.log_sum_exp_rows_double(v.data(), m.data(), rows, cols, out.data());
        k.exp_rows_double(v.data(), m.data(), rows, cols, exps.data(), top.data(), total.data());
      }
      for (int64_t r = 0; r < rows; ++r) {
        T want_top = neg_inf;
        for (int64_t c = 0; c < cols; ++c) want_top = std::max(want_top, v[c] + m[r * cols + c]);
        long double sum = 0;
        bool exps_right = true;
        for (int64_t c = 0; c < cols; ++c) {
          const long double e = want_top == neg_inf ? 0 : std::exp(static_cast<long double>(v[c]) + m[r * cols + c] - want_top);
          sum += e;
          exps_right = exps_right && close(e, exps[r * cols + c]);
        }
        const long double want_lse = want_top == neg_inf ? neg_inf : want_top + std::log(sum);
        const std::string at = " at " + std::to_string(rows) + "x" + std::to_string(cols) + " row " + std::to_string(r);
        if (!close(want_lse, out[r])) failures.push_back(where + " log_sum_exp_rows wrong" + at);
        if (top[r] != want_top) failures.push_back(where + " exp_rows top wrong" + at);
        if (!close(want_top == neg_inf ? 0 : sum, total[r])) failures.push_back(where + " exp_rows total wrong" + at);
        if (!exps_right) failures.push_back(where + " exp_rows stored wrong" + at);
      }
      std::vector<T> scaled = exps;
      if constexpr (sizeof(T) == 4) k.scale_rows_sum_columns_float(scaled.data(), factor.data(), rows, cols, sums.data());
      else k.scale_rows_sum_columns_double(scaled.data(), factor.data(), rows, cols, sums.data());
      for (int64_t c = 0; c < cols; ++c) {
        long double want = 0;
        for (int64_t r = 0; r < rows; ++r) {
          want += static_cast<long double>(exps[r * cols + c] * factor[r]);
          if (scaled[r * cols + c] != exps[r * cols + c] * factor[r]) failures.push_back(where + " scale_rows wrong");
        }
        if (!close(want, sums[c])) failures.push_back(where + " sum_columns wrong");
      }
    }
  }
}

/// The term kernels (Alignment's wavefronts) against plain loops: 1 to 4 terms, with and without b, every length up
/// to 37, -inf entries and all--inf positions; max_terms exactly.
template <typename T>
void check_terms(const Kernels& k) {
  const std::string where = std::string(k.name) + (sizeof(T) == 4 ? " float" : " double");
  const T neg_inf = -std::numeric_limits<T>::infinity();
  const T tolerance = sizeof(T) == 4 ? T(3e-6) : T(1e-14);
  const auto close = [&](long double want, T got) {
    if (want == neg_inf) return got == neg_inf;
    return std::fabs(static_cast<long double>(got) - want) <= tolerance * (1 + std::fabs(want));
  };
  uint64_t state = 6;
  for (int64_t terms = 1; terms <= 4; ++terms) {
    for (int64_t n = 0; n <= 37; ++n) {
      std::vector<std::vector<T>> a(terms, std::vector<T>(n)), b(terms, std::vector<T>(n));
      std::vector<T> c(n), out(n), top(n), exps(n);
      for (int64_t q = 0; q < terms; ++q) {
        for (int64_t t = 0; t < n; ++t) {
          a[q][t] = static_cast<T>(static_cast<double>(splitmix64(state) % 20000) / 1000.0 - 10.0);
          b[q][t] = static_cast<T>(static_cast<double>(splitmix64(state) % 20000) / 1000.0 - 10.0);
          if (t % 3 == 0 || splitmix64(state) % 4 == 0) a[q][t] = neg_inf;  // t % 3 == 0: every term -inf
        }
      }
      for (auto& x : c) x = static_cast<T>(static_cast<double>(splitmix64(state) % 20000) / 1000.0 - 10.0);
      const T* ap[4];
      const T* bp[4];
      for (int64_t q = 0; q < terms; ++q) {
        ap[q] = a[q].data();
        bp[q] = q == 1 ? nullptr : b[q].data();  // term 1 without b
      }
      const std::string at = " at terms=" + std::to_string(terms) + " n=" + std::to_string(n);
      if constexpr (sizeof(T) == 4) {
        k.log_sum_exp_terms_float(ap, bp, terms, n, out.data());
        k.max_terms_float(ap, bp, terms, n, top.data());
      } else {
        k.log_sum_exp_terms_double(ap, bp, terms, n, out.data());
        k.max_terms_double(ap, bp, terms, n, top.data());
      }
      for (int64_t t = 0; t < n; ++t) {
        const auto term = [&](int64_t q) { return q == 1 ? a[q][t] : a[q][t] + b[q][t]; };
        T want_top = neg_inf;
        for (int64_t q = 0; q < terms; ++q) want_top = std::max(want_top, term(q));
        long double sum = 0;
        for (int64_t q = 0; q < terms && want_top != neg_inf; ++q) sum += std::exp(static_cast<long double>(term(q)) - want_top);
        const long double want = want_top == neg_inf ? neg_inf : want_top + std::log(sum);
        if (!close(want, out[t])) failures.push_back(where + " log_sum_exp_terms wrong" + at);
        if (top[t] != want_top) failures.push_back(where + " max_terms wrong" + at);
      }
      for (int with_c = 0; with_c < 2; ++with_c) {
        const T shift = T(3.5);
        const T* cp = with_c ? c.data() : nullptr;
        if constexpr (sizeof(T) == 4) k.exp_of_sums_float(a[0].data(), b[0].data(), cp, shift, n, exps.data());
        else k.exp_of_sums_double(a[0].data(), b[0].data(), cp, shift, n, exps.data());
        for (int64_t t = 0; t < n; ++t) {
          const T x = with_c ? a[0][t] + b[0][t] + c[t] - shift : a[0][t] + b[0][t] - shift;
          if (!close(std::exp(static_cast<long double>(x)), exps[t])) failures.push_back(where + " exp_of_sums wrong" + at);
        }
      }
    }
  }
}

/// The lane reduction against plain loops: every lane count up to 37 (whole vectors and partial ones), rows 0 to 9,
/// -inf entries and all--inf lanes.
template <typename T>
void check_lanes(const Kernels& k) {
  const std::string where = std::string(k.name) + (sizeof(T) == 4 ? " float" : " double");
  const T neg_inf = -std::numeric_limits<T>::infinity();
  const T tolerance = sizeof(T) == 4 ? T(3e-6) : T(1e-14);
  uint64_t state = 5;
  for (int64_t lanes = 1; lanes <= 37; ++lanes) {
    for (int64_t n = 0; n <= 9; ++n) {
      std::vector<T> a(n * lanes), b(n * lanes), out(lanes);
      for (auto& x : a) x = static_cast<T>(static_cast<double>(splitmix64(state) % 20000) / 1000.0 - 10.0);
      for (auto& x : b) x = static_cast<T>(static_cast<double>(splitmix64(state) % 20000) / 1000.0 - 10.0);
      for (int64_t r = 0; r < n; ++r) a[r * lanes] = neg_inf;  // lane 0: every sum -inf
      if (n > 1 && lanes > 1) b[lanes + 1] = neg_inf;
      if constexpr (sizeof(T) == 4) k.log_sum_exp_of_sums_lanes_float(a.data(), b.data(), n, lanes, out.data());
      else k.log_sum_exp_of_sums_lanes_double(a.data(), b.data(), n, lanes, out.data());
      for (int64_t l = 0; l < lanes; ++l) {
        T top = neg_inf;
        for (int64_t r = 0; r < n; ++r) top = std::max(top, a[r * lanes + l] + b[r * lanes + l]);
        long double sum = 0;
        for (int64_t r = 0; r < n && top != neg_inf; ++r) sum += std::exp(static_cast<long double>(a[r * lanes + l]) + b[r * lanes + l] - top);
        const long double want = top == neg_inf ? neg_inf : top + std::log(sum);
        const bool right = want == neg_inf ? out[l] == neg_inf
                                           : std::fabs(static_cast<long double>(out[l]) - want) <= tolerance * (1 + std::fabs(want));
        if (!right) failures.push_back(where + " log_sum_exp_of_sums_lanes wrong at lanes=" + std::to_string(lanes) + " n=" + std::to_string(n));
      }
    }
  }
}

/// add_rows (out += a strided column of coefficients times rows) against plain loops: output counts 0 to 70 (whole
/// and partial vectors, blocks of four vectors), coefficient strides 1 and 3, zero coefficients skipped.
template <typename T>
void check_add_rows(const Kernels& k) {
  const std::string where = std::string(k.name) + (sizeof(T) == 4 ? " float" : " double");
  const T tolerance = sizeof(T) == 4 ? T(1e-5) : T(1e-13);
  uint64_t state = 11;
  for (int64_t n = 0; n <= 70; ++n) {
    for (int64_t coef_stride : {1, 3}) {
      const int64_t terms = 7, stride = n + 5;
      std::vector<T> coefs(terms * coef_stride), rows(terms * stride), out(n), want(n);
      for (auto& x : coefs) x = static_cast<T>(static_cast<double>(splitmix64(state) % 2000) / 1000.0 - 1.0);
      coefs[2 * coef_stride] = 0;
      for (auto& x : rows) x = static_cast<T>(static_cast<double>(splitmix64(state) % 2000) / 1000.0 - 1.0);
      rows[2 * stride] = std::numeric_limits<T>::infinity();  // under a zero coefficient: never read into a sum
      for (int64_t q = 0; q < n; ++q) out[q] = want[q] = static_cast<T>(q) / 10;
      if constexpr (sizeof(T) == 4) k.add_rows_float(coefs.data(), coef_stride, rows.data(), stride, terms, n, out.data());
      else k.add_rows_double(coefs.data(), coef_stride, rows.data(), stride, terms, n, out.data());
      for (int64_t q = 0; q < n; ++q) {
        long double sum = want[q];
        for (int64_t t = 0; t < terms; ++t) {
          if (coefs[t * coef_stride] != 0) sum += static_cast<long double>(coefs[t * coef_stride]) * rows[t * stride + q];
        }
        if (!(std::fabs(static_cast<long double>(out[q]) - sum) <= tolerance * (1 + std::fabs(sum)))) {
          failures.push_back(where + " add_rows wrong at n=" + std::to_string(n) + " q=" + std::to_string(q));
        }
      }
    }
  }
}

}  // namespace

int main() {
  const std::vector<float> fe = float_exp_inputs(), fl = float_log_inputs();
  const std::vector<double> de = double_exp_inputs(), dl = double_log_inputs();
  std::printf("{\"sets\": [");
  bool first = true;
  for (const char* name : {"avx512", "avx2", "baseline"}) {
    const Kernels* k = ls::cpu::vec::kernels_named(name);
    if (!k) continue;
    const Worst a = measure<float, false>(*k, fe), b = measure<float, true>(*k, fl);
    const Worst c = measure<double, false>(*k, de), d = measure<double, true>(*k, dl);
    check_specials<float>(*k);
    check_specials<double>(*k);
    check_rows<float>(*k);
    check_rows<double>(*k);
    check_matrix<float>(*k);
    check_matrix<double>(*k);
    check_lanes<float>(*k);
    check_lanes<double>(*k);
    check_terms<float>(*k);
    check_terms<double>(*k);
    check_add_rows<float>(*k);
    check_add_rows<double>(*k);
    std::printf("%s{\"isa\": \"%s\", \"expFloat\": %.4f, \"expFloatAt\": %.9g, \"logFloat\": %.4f, \"logFloatAt\": %.9g, "
                "\"expDouble\": %.4f, \"expDoubleAt\": %.17g, \"logDouble\": %.4f, \"logDoubleAt\": %.17g}",
                first ? "" : ", ", name, a.ulps, a.input, b.ulps, b.input, c.ulps, c.input, d.ulps, d.input);
    first = false;
  }
  std::printf("], \"inputs\": %zu, \"failures\": [", fe.size() + fl.size() + de.size() + dl.size());
  for (size_t i = 0; i < failures.size() && i < 20; ++i) std::printf("%s\"%s\"", i ? ", " : "", failures[i].c_str());
  std::printf("]}\n");
  return 0;
}
