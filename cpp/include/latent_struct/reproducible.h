// Float64 arithmetic that gives the same bits on the CPU backend and on CUDA: the operations behind the Gumbel
// noise, whose bit-identity across backends the README promises.
//
// Why this exists: the Philox uniforms are bit-identical by construction (integer arithmetic, philox.h), but a
// Gumbel variate is -log(-log u), and the two backends' `log` are different functions (glibc on the host,
// libdevice on the device) that round differently on about 0.26 % of inputs. And nvcc contracts `x + t * g` into
// one fused multiply-add where the host compiler may not (or may: g++ with -mfma or on aarch64, clang with
// -ffp-contract=on/fast), which changes the last bit again.
//
// So the noise uses ONE `log` (repro_log below: fdlibm's algorithm, as in musl and FreeBSD's msun) written only
// with operations that IEEE 754 rounds correctly, hence identically, on both backends: add, multiply, divide,
// integer bit manipulation of the representation, and int -> double conversion. Every add and multiply goes
// through repro_add / repro_mul, which are never fused into an FMA:
//   - device code (__CUDA_ARCH__, which the emulated device of cuda/emulator defines too): __dadd_rn /
//     __dmul_rn, which nvcc documents as never contracted;
//   - host code: the plain operation, and the product passes through an empty asm statement (an optimization
//     barrier, as glibc's math_opt_barrier) so that no compiler can see `a * b` feeding an add and fuse them,
//     whatever -ffp-contract, -mfma or -march says (the compiler ignores `#pragma STDC FP_CONTRACT` in g++).
//   - division: IEEE correctly rounded on both (CUDA's double `/` is round-to-nearest-even, 0 ulp, with any
//     flags; -prec-div and -use_fast_math only change float), and never part of a contraction.
// CUDA double arithmetic never flushes subnormals (-ftz is for float), so subnormal inputs and intermediates
// also round the same.
//
// Accuracy of repro_log: within 1 ulp of the exact logarithm over all doubles (fdlibm's bound; the measured
// maximum, against glibc's log and a long-double reference, is in test/reproducible_log.test.ts, which builds
// test/native/reproducible_log.cc with the host compiler, with and without FMA contraction, and on the
// emulated device's branch).
//
// Float32 noise is computed in float64 with these functions and rounded once to float (a correctly rounded
// conversion on both backends), so it is bit-identical too.
#pragma once
#include <cstdint>
#include <cstring>

#include "latent_struct/common.h"

#if !defined(__CUDA_ARCH__) && defined(__FAST_MATH__)
#error "latent_struct/reproducible.h: -ffast-math reassociates and contracts float arithmetic; build without it"
#endif
#if !defined(__CUDA_ARCH__) && defined(__FLT_EVAL_METHOD__) && __FLT_EVAL_METHOD__ != 0 && \
    __FLT_EVAL_METHOD__ != -1
#error "latent_struct/reproducible.h needs double arithmetic without excess precision (x87): build with SSE2 math"
#endif

namespace ls {

#if !defined(__CUDA_ARCH__)
namespace detail {
/// Makes `value` opaque to the optimizer: the compiler must materialize it rounded to double here, and cannot
/// fold the operation that produced it into the next one (no FMA contraction across this point).
inline void fp_barrier(double& value) {
#if defined(__GNUC__) || defined(__clang__)
#if defined(__x86_64__) || defined(__SSE2_MATH__)
  __asm__("" : "+x"(value));
#elif defined(__aarch64__)
  __asm__("" : "+w"(value));
#else
  __asm__("" : "+m"(value));
#endif
#else
  volatile double stored = value;
  value = stored;
#endif
}
}  // namespace detail
#endif

/// The bits of a double and back (memcpy: defined behaviour in C++, a register move on both backends).
LS_HOST_DEVICE inline uint64_t repro_bits(double x) {
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  return bits;
}
LS_HOST_DEVICE inline double repro_from_bits(uint64_t bits) {
  double x;
  memcpy(&x, &bits, sizeof x);
  return x;
}

/// a + b, correctly rounded, never fused with a neighbouring multiply.
LS_HOST_DEVICE inline double repro_add(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;  // an add can only be fused with a multiply feeding it, and every multiply here is repro_mul
#endif
}

/// a - b, correctly rounded, never fused (negation is exact).
LS_HOST_DEVICE inline double repro_sub(double a, double b) { return repro_add(a, -b); }

/// a * b, correctly rounded, never fused into an FMA with the add that consumes it.
LS_HOST_DEVICE inline double repro_mul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  double product = a * b;
  detail::fp_barrier(product);
  return product;
#endif
}

/// a / b, correctly rounded on both backends (see the header comment).
LS_HOST_DEVICE inline double repro_div(double a, double b) { return a / b; }

/// The natural logarithm, within 1 ulp, with the same bits on both backends: log(+-0) = -inf, log(x < 0) = NaN,
/// log(+inf) = +inf, log(NaN) = NaN, log(1) = +0.
///
/// fdlibm's e_log.c (Sun Microsystems, 1993; "Permission to use, copy, modify, and distribute this software is
/// freely granted, provided that this notice is preserved"), in musl's form: x = 2^k (1 + f) with
/// sqrt(2)/2 < 1 + f < sqrt(2), s = f / (2 + f), log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)) with a degree-14
/// minimax polynomial R, and log x = k ln2_hi + (that + k ln2_lo), ln2_hi having trailing zero bits so that
/// k ln2_hi is exact for every k.
LS_HOST_DEVICE inline double repro_log(double x) {
  constexpr double ln2_hi = 6.93147180369123816490e-01;  // 3fe62e42 fee00000
  constexpr double ln2_lo = 1.90821492927058770002e-10;  // 3dea39ef 35793c76
  constexpr double Lg1 = 6.666666666666735130e-01;       // 3FE55555 55555593
  constexpr double Lg2 = 3.999999999940941908e-01;       // 3FD99999 9997FA04
  constexpr double Lg3 = 2.857142874366239149e-01;       // 3FD24924 94229359
  constexpr double Lg4 = 2.222219843214978396e-01;       // 3FCC71C5 1D8E78AF
  constexpr double Lg5 = 1.818357216161805012e-01;       // 3FC74664 96CB03DE
  constexpr double Lg6 = 1.531383769920937332e-01;       // 3FC39A09 D078C69F
  constexpr double Lg7 = 1.479819860511658591e-01;       // 3FC2F112 DF3E5244
  constexpr double two54 = 18014398509481984.0;          // 2^54

  uint64_t bits = repro_bits(x);
  uint32_t hx = static_cast<uint32_t>(bits >> 32);
  int k = 0;
  if (hx < 0x00100000u || (hx >> 31) != 0) {
    if ((bits << 1) == 0) return repro_from_bits(0xfff0000000000000u);  // log(+-0) = -inf
    if ((hx >> 31) != 0) {  // negative, or a NaN with the sign bit set (which stays that NaN)
      return (bits << 1) > (uint64_t{0x7ff} << 53) ? x : repro_from_bits(0x7ff8000000000000u);
    }
    // Subnormal: scale into the normal range (exact).
    k -= 54;
    x = repro_mul(x, two54);
    bits = repro_bits(x);
    hx = static_cast<uint32_t>(bits >> 32);
  } else if (hx >= 0x7ff00000u) {
    return x;  // +inf or NaN
  } else if (hx == 0x3ff00000u && static_cast<uint32_t>(bits) == 0) {
    return 0.0;
  }

  // Reduce x into [sqrt(2)/2, sqrt(2)): x = 2^k * m.
  hx += 0x3ff00000u - 0x3fe6a09eu;
  k += static_cast<int>(hx >> 20) - 0x3ff;
  hx = (hx & 0x000fffffu) + 0x3fe6a09eu;
  x = repro_from_bits((static_cast<uint64_t>(hx) << 32) | (bits & 0xffffffffu));

  const double f = repro_sub(x, 1.0);
  const double hfsq = repro_mul(repro_mul(0.5, f), f);
  const double s = repro_div(f, repro_add(2.0, f));
  const double z = repro_mul(s, s);
  const double w = repro_mul(z, z);
  const double t1 = repro_mul(w, repro_add(Lg2, repro_mul(w, repro_add(Lg4, repro_mul(w, Lg6)))));
  const double t2 =
      repro_mul(z, repro_add(Lg1, repro_mul(w, repro_add(Lg3, repro_mul(w, repro_add(Lg5, repro_mul(w, Lg7)))))));
  const double R = repro_add(t2, t1);
  const double dk = static_cast<double>(k);
  // s (hfsq + R) + k ln2_lo - hfsq + f + k ln2_hi, left to right as in fdlibm.
  double result = repro_mul(s, repro_add(hfsq, R));
  result = repro_add(result, repro_mul(dk, ln2_lo));
  result = repro_sub(result, hfsq);
  result = repro_add(result, f);
  return repro_add(result, repro_mul(dk, ln2_hi));
}

/// A standard Gumbel variate -log(-log u) of a uniform u in (0, 1), the same bits on both backends.
LS_HOST_DEVICE inline double repro_gumbel_of_uniform(double u) { return -repro_log(-repro_log(u)); }

}  // namespace ls
