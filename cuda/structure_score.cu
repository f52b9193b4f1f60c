// CUDA backend of structure_score (tree.h): <parts, scores> per structure, a warp (or a block for long rows)
// per structure.
#include <cuda_runtime.h>

#include "cuda_common.cuh"
#include "latent_struct/tree.h"

namespace ls {
namespace cuda {
namespace {

template <int GROUP, typename T>
__global__ void structure_score_kernel(const T* scores, const T* parts, int64_t rows, int64_t batch, int64_t part_count,
                                       const T* log_z, T* out) {
  const RowGroup<GROUP> g;
  if (g.row >= rows) return;
  const int64_t b = g.row % batch;
  const T* z = parts + g.row * part_count;
  const T* s = scores + b * part_count;
  T total = 0;
  for (int64_t k = g.lane; k < part_count; k += GROUP) {
    if (z[k] != 0) total += z[k] * s[k];
  }
  total = g.reduce(total, SumOp());
  if (g.lane == 0) out[g.row] = log_z ? total - log_z[b] : total;
}

}  // namespace

template <typename T>
void structure_score(const T* scores, const T* parts, int64_t rows, int64_t batch, int64_t part_count, const T* log_z,
                     T* out) {
  if (rows <= 0) return;
  LS_LAUNCH_ROWS(structure_score_kernel, rows, part_count, scores, parts, rows, batch, part_count, log_z, out);
}

template void structure_score<float>(const float*, const float*, int64_t, int64_t, int64_t, const float*, float*);
template void structure_score<double>(const double*, const double*, int64_t, int64_t, int64_t, const double*, double*);

}  // namespace cuda
}  // namespace ls
