// CPU backend: Gumbel noise from Philox, Gumbel-max sampling / perturb-and-MAP, Gumbel-softmax, and the Gumbel
// perturbation of any structure's scores. The noise, the perturbed scores x + tG and the Gumbel-max values are
// bit-identical to cuda/gumbel.cu: the same Philox uniforms, the same log (repro_log) and the same unfused
// float64 operations (repro_add / repro_mul, latent_struct/reproducible.h), rounded once to T at the end.
#include <cmath>
#include <limits>

#include "latent_struct/categorical.h"
#include "latent_struct/philox.h"
#include "parallel.h"

namespace ls {
namespace cpu {

template <typename T>
void gumbel(T* out, int64_t count, uint64_t seed, uint64_t stream) {
  parallel_for(count, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = static_cast<T>(philox_gumbel(seed, stream, static_cast<uint64_t>(i)));
  });
}

template <typename T>
void gumbel_perturb(const T* scores, T* out, int64_t count, uint64_t seed, uint64_t stream, double noise_scale,
                    double scale) {
  parallel_for(count, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double noise =
          noise_scale == 0 ? 0.0 : repro_mul(noise_scale, philox_gumbel(seed, stream, static_cast<uint64_t>(i)));
      out[i] = static_cast<T>(repro_mul(scale, repro_add(static_cast<double>(scores[i]), noise)));
    }
  });
}

template <typename T>
void gumbel_max(const T* scores, int32_t* index, RowShape shape, int64_t samples, uint64_t seed, double noise_scale) {
  parallel_for(samples * shape.rows, rows_grain(shape.cols), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const T* x = scores + (row % shape.rows) * shape.cols;
      const uint64_t first = static_cast<uint64_t>(row * shape.cols);
      double best = -std::numeric_limits<double>::infinity();
      int64_t best_k = -1;
      for (int64_t k = 0; k < shape.cols; ++k) {
        if (x[k] == -std::numeric_limits<T>::infinity()) continue;
        const double value =
            repro_add(static_cast<double>(x[k]), repro_mul(noise_scale, philox_gumbel(seed, 0, first + k)));
        if (best_k < 0 || value > best) {
          best = value;
          best_k = k;
        }
      }
      index[row] = static_cast<int32_t>(best_k);
    }
  });
}

template <typename T>
void gumbel_softmax(const T* scores, T* probs, RowShape shape, double temperature, uint64_t seed) {
  parallel_for(shape.rows, rows_grain(shape.cols), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const T* x = scores + b * shape.cols;
      T* p = probs + b * shape.cols;
      const uint64_t first = static_cast<uint64_t>(b * shape.cols);
      double top = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < shape.cols; ++k) {
        // (x + G) / τ is bit-identical to CUDA's; the exp and the row sum below are not (libm's exp against
        // libdevice's, and a different summation order), so the probabilities agree to rounding only.
        const double g = philox_gumbel(seed, 0, first + k);
        p[k] = static_cast<T>(repro_div(repro_add(static_cast<double>(x[k]), g), temperature));
        top = std::max(top, static_cast<double>(p[k]));
      }
      double sum = 0;
      for (int64_t k = 0; k < shape.cols; ++k) {
        p[k] = static_cast<T>(std::exp(static_cast<double>(p[k]) - top));
        sum += static_cast<double>(p[k]);
      }
      for (int64_t k = 0; k < shape.cols; ++k) p[k] = static_cast<T>(static_cast<double>(p[k]) / sum);
    }
  });
}

LS_INSTANTIATE_GUMBEL_FAMILY(float)
LS_INSTANTIATE_GUMBEL_FAMILY(double)

}  // namespace cpu
}  // namespace ls
