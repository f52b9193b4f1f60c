// Test program of cpp/include/latent_struct/reproducible.h, built and run by test/reproducible_log.test.ts with
// the host C++ compiler in several configurations (plain; FMA contraction forced on; the device branch through
// the emulated CUDA device's __dadd_rn/__dmul_rn). It prints one JSON object:
//   - the accuracy of repro_log: the largest distance in ulps to the C library's log, and the largest error in
//     ulps (fractional) against a long-double reference, over random doubles of every exponent, subnormals,
//     values near 1, powers of two and their neighbours, and the Gumbel inputs u and -log u;
//   - the special values (0, -0, negatives, +-inf, NaN, 1);
//   - a hash of all results, which must be the same in every configuration (bit-identity);
//   - whether a plain `a * b + c` was fused in this configuration (so that the FMA configuration is known to
//     have contracted everything it could);
// and, given a file name, writes philox_gumbel(seed, stream, i) for i < count to it as raw float64 so that the
// test compares them with the addon's gumbelNoise on each backend.
#if defined(LS_TEST_DEVICE_BRANCH)
#include <cuda_runtime.h>  // the emulated device: defines __CUDA_ARCH__ and __dadd_rn / __dmul_rn
#endif

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "latent_struct/philox.h"
#include "latent_struct/reproducible.h"

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double from_bits(uint64_t bits) { return ls::repro_from_bits(bits); }
uint64_t to_bits(double x) { return ls::repro_bits(x); }

/// Position of a finite double on the number line, in ulps (monotone over all finite doubles).
int64_t ordinal(double x) {
  const uint64_t bits = to_bits(x);
  return (bits >> 63) ? -static_cast<int64_t>(bits & 0x7fffffffffffffffull) : static_cast<int64_t>(bits);
}

struct Stats {
  uint64_t count = 0, differ_from_libm = 0, hash = 0xcbf29ce484222325ull;
  int64_t max_ulps_libm = 0;
  double max_ulp_error = 0, worst_input = 0;
  bool failed = false;
  char failure[256] = {0};

  void hash_in(double r) {
    uint64_t bits = to_bits(r);
    for (int byte = 0; byte < 8; ++byte, bits >>= 8) hash = (hash ^ (bits & 0xff)) * 0x100000001b3ull;
  }

  void fail(const char* what, double x, double got) {
    if (!failed) std::snprintf(failure, sizeof failure, "%s: log(%a) gave %a", what, x, got);
    failed = true;
  }

  /// One finite positive input.
  void check(double x) {
    const double r = ls::repro_log(x);
    hash_in(r);
    ++count;
    const double libm = std::log(x);
    if (!std::isfinite(r)) return fail("non-finite result for a finite positive input", x, r);
    const int64_t ulps = std::llabs(ordinal(r) - ordinal(libm));
    if (ulps != 0) ++differ_from_libm;
    if (ulps > max_ulps_libm) max_ulps_libm = ulps;
#if LDBL_MANT_DIG > DBL_MANT_DIG
    // Error in units of the last place of the exact result, against a reference with >= 11 more bits.
    const long double exact = logl(static_cast<long double>(x));
    if (exact != 0) {
      int exponent;
      std::frexp(static_cast<double>(exact), &exponent);
      const long double ulp = std::ldexp(1.0L, std::max(exponent - DBL_MANT_DIG, DBL_MIN_EXP - DBL_MANT_DIG));
      const double error = static_cast<double>(fabsl(static_cast<long double>(r) - exact) / ulp);
      if (error > max_ulp_error) {
        max_ulp_error = error;
        worst_input = x;
      }
    }
#endif
  }
};

// Volatile so that the compiler cannot fold the probe at compile time.
volatile double probe_a = 1.0 + 0x1p-30, probe_b = 1.0 - 0x1p-30, probe_c = -1.0;

}  // namespace

int main(int argc, char** argv) {
  Stats stats;
  uint64_t state = 20240611;

  // Random bit patterns over every exponent (the sign cleared; NaN and inf skipped).
  for (int i = 0; i < 3000000; ++i) {
    const uint64_t bits = splitmix64(state) & 0x7fffffffffffffffull;
    if ((bits >> 52) == 0x7ff || bits == 0) continue;
    stats.check(from_bits(bits));
  }
  // Subnormals.
  for (int i = 0; i < 300000; ++i) {
    const uint64_t bits = splitmix64(state) & 0x000fffffffffffffull;
    if (bits != 0) stats.check(from_bits(bits));
  }
  for (uint64_t bits = 1; bits < 1000; ++bits) stats.check(from_bits(bits));
  // Near 1: 1 +- k ulps, and 1 +- random small offsets at every scale.
  for (int k = 1; k <= 20000; ++k) {
    stats.check(1.0 + k * 0x1p-52);
    stats.check(1.0 - k * 0x1p-53);
  }
  for (int i = 0; i < 300000; ++i) {
    const double offset = std::ldexp(static_cast<double>(splitmix64(state) >> 11) * 0x1p-53, -(i % 60));
    stats.check(1.0 + offset);
    stats.check(1.0 - offset / 2);
  }
  // Every power of two and its neighbours.
  for (int e = -1074; e <= 1023; ++e) {
    const double p = std::ldexp(1.0, e);
    stats.check(p);
    double up = p, down = p;
    for (int j = 0; j < 3; ++j) {
      up = std::nextafter(up, INFINITY);
      down = std::nextafter(down, 0.0);
      if (std::isfinite(up)) stats.check(up);
      if (down > 0) stats.check(down);
    }
  }
  stats.check(DBL_MAX);
  stats.check(DBL_MIN);
  // The Gumbel's own inputs: Philox uniforms u and -log u.
  for (uint64_t i = 0; i < 1000000; ++i) {
    const double u = ls::philox_uniform(7, 3, i);
    stats.check(u);
    stats.check(-ls::repro_log(u));
  }

  // Special values.
  struct Special {
    double x;
    const char* expect;  // "-inf", "+inf", "nan", "+0"
  };
  const Special specials[] = {{0.0, "-inf"},      {-0.0, "-inf"},          {-1.0, "nan"},
                              {-DBL_MIN, "nan"},  {-from_bits(1), "nan"},  {-INFINITY, "nan"},
                              {INFINITY, "+inf"}, {NAN, "nan"},            {-NAN, "nan"},
                              {1.0, "+0"}};
  for (const Special& s : specials) {
    const double r = ls::repro_log(s.x);
    stats.hash_in(r);
    const bool ok = std::strcmp(s.expect, "-inf") == 0   ? (std::isinf(r) && r < 0)
                    : std::strcmp(s.expect, "+inf") == 0 ? (std::isinf(r) && r > 0)
                    : std::strcmp(s.expect, "nan") == 0  ? std::isnan(r)
                                                         : (r == 0 && !std::signbit(r));
    if (!ok) stats.fail("special value", s.x, r);
  }

  // Gumbel noise for the addon comparison.
  if (argc >= 5) {
    const uint64_t seed = std::strtoull(argv[2], nullptr, 10), stream = std::strtoull(argv[3], nullptr, 10);
    const uint64_t count = std::strtoull(argv[4], nullptr, 10);
    FILE* out = std::fopen(argv[1], "wb");
    if (out == nullptr) return 2;
    for (uint64_t i = 0; i < count; ++i) {
      const double g = ls::philox_gumbel(seed, stream, i);
      stats.hash_in(g);
      std::fwrite(&g, sizeof g, 1, out);
    }
    std::fclose(out);
  }

  const double fused = probe_a * probe_b + probe_c;  // -2^-60 when contracted into an FMA, 0 when not
#if defined(__CUDA_ARCH__)
  const bool device_branch = true;
#else
  const bool device_branch = false;
#endif
  std::printf(
      "{\"count\": %llu, \"maxUlpsFromLibm\": %lld, \"differFromLibm\": %llu, \"maxUlpError\": %.6f, "
      "\"worstInput\": \"%a\", \"referenceBits\": %d, \"hash\": \"%016llx\", \"plainMulAddFused\": %s, "
      "\"deviceBranch\": %s, \"failure\": %s%s%s}\n",
      static_cast<unsigned long long>(stats.count), static_cast<long long>(stats.max_ulps_libm),
      static_cast<unsigned long long>(stats.differ_from_libm), stats.max_ulp_error, stats.worst_input,
      LDBL_MANT_DIG, static_cast<unsigned long long>(stats.hash), fused != 0 ? "true" : "false",
      device_branch ? "true" : "false", stats.failed ? "\"" : "", stats.failed ? stats.failure : "null",
      stats.failed ? "\"" : "");
  return 0;
}
