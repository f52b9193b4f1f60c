// Log-space arithmetic shared by the structures' sweeps on both backends: -inf, exp/log per dtype, and the
// inverse-CDF draw that every exact sampler uses.
#pragma once
#include <math.h>

#include <cstdint>

#include "latent_struct/common.h"

namespace ls {

template <typename T>
LS_HOST_DEVICE inline T neg_inf() {
  return -static_cast<T>(INFINITY);
}
LS_HOST_DEVICE inline float exp_of(float x) { return expf(x); }
LS_HOST_DEVICE inline double exp_of(double x) { return exp(x); }
LS_HOST_DEVICE inline float log_of(float x) { return logf(x); }
LS_HOST_DEVICE inline double log_of(double x) { return log(x); }

/// Inverse-CDF draw of one of `count` outcomes with unnormalized log-weights log_weight(c) (shifted so that
/// exp does not overflow): the first c whose cumulative weight exceeds u * total (the last positive one on
/// round-off); -1 when every weight is zero.
template <typename T, typename F>
LS_HOST_DEVICE int32_t draw(int64_t count, double u, F log_weight) {
  T total = 0;
  for (int64_t c = 0; c < count; ++c) total += exp_of(log_weight(c));
  const T target = static_cast<T>(u) * total;
  T cumulative = 0;
  int32_t chosen = -1;
  for (int64_t c = 0; c < count; ++c) {
    const T w = exp_of(log_weight(c));
    if (!(w > 0)) continue;
    cumulative += w;
    chosen = static_cast<int32_t>(c);
    if (cumulative > target) break;
  }
  return chosen;
}

}  // namespace ls
