// CUDA backend of Categorical's top-k (categorical_topk.h): a thread per row running the shared row routine (k and
// K are small next to the rows of a batch; the scores never leave the device).
#include <cuda_runtime.h>

#include "cuda_common.cuh"
#include "latent_struct/categorical_topk.h"

namespace ls {
namespace cuda {
namespace {

template <typename T>
__global__ void categorical_topk_kernel(const T* scores, int64_t rows, int64_t cols, int64_t k, int32_t* index, T* top,
                                        T* parts) {
  const int64_t row = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (row >= rows) return;
  categorical::topk_row(scores, rows, cols, row, k, index, top, parts);
}

}  // namespace

template <typename T>
void categorical_topk(const T* scores, RowShape shape, int64_t k, int32_t* index, T* top, T* parts) {
  if (shape.rows == 0 || k == 0) return;
  const int64_t blocks = (shape.rows + kBlockThreads - 1) / kBlockThreads;
  launch("categorical_topk", categorical_topk_kernel<T>, static_cast<unsigned>(blocks), kBlockThreads, scores,
         shape.rows, shape.cols, k, index, top, parts);
}

template void categorical_topk<float>(const float*, RowShape, int64_t, int32_t*, float*, float*);
template void categorical_topk<double>(const double*, RowShape, int64_t, int32_t*, double*, double*);

}  // namespace cuda
}  // namespace ls
