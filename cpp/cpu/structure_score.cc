// CPU backend of structure_score (tree.h): <parts, scores> per structure, over the parts taken.
#include "latent_struct/tree.h"
#include "parallel.h"

namespace ls {
namespace cpu {

template <typename T>
void structure_score(const T* scores, const T* parts, int64_t rows, int64_t batch, int64_t part_count, const T* log_z,
                     T* out) {
  parallel_for(rows, rows_grain(part_count), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row % batch;
      const T* z = parts + row * part_count;
      const T* s = scores + b * part_count;
      T total = 0;
      for (int64_t k = 0; k < part_count; ++k) {
        if (z[k] != 0) total += z[k] * s[k];
      }
      out[row] = log_z ? total - log_z[b] : total;
    }
  });
}

template void structure_score<float>(const float*, const float*, int64_t, int64_t, int64_t, const float*, float*);
template void structure_score<double>(const double*, const double*, int64_t, int64_t, int64_t, const double*, double*);

}  // namespace cpu
}  // namespace ls
