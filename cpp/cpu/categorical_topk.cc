// CPU backend of Categorical's top-k (categorical_topk.h): rows split across the thread pool, one row per call of
// the shared row routine.
#include "latent_struct/categorical_topk.h"

#include "parallel.h"

namespace ls {
namespace cpu {

template <typename T>
void categorical_topk(const T* scores, RowShape shape, int64_t k, int32_t* index, T* top, T* parts) {
  parallel_for(shape.rows, rows_grain(k * shape.cols), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      categorical::topk_row(scores, shape.rows, shape.cols, row, k, index, top, parts);
    }
  });
}

template void categorical_topk<float>(const float*, RowShape, int64_t, int32_t*, float*, float*);
template void categorical_topk<double>(const double*, RowShape, int64_t, int32_t*, double*, double*);

}  // namespace cpu
}  // namespace ls
