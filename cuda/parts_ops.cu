// CUDA backend of the estimators' parts arithmetic (latent_struct/parts_ops.h). Parts stay on the device: the only
// host <-> device copies are the per-instance coefficients of parts_combine (terms x B doubles, up), the [B] dot
// products of parts_dot (down) and the positions of parts_one_hot (up). Sums accumulate in double, terms in order.
#include <cuda_runtime.h>

#include <cmath>

#include "cuda_common.cuh"
#include "latent_struct/parts_ops.h"

namespace ls {
namespace cuda {
namespace {

/// acc[i] (= 0 first) += coefs[i / stride] * x[i], skipping a zero coefficient.
template <typename T>
__global__ void combine_term_kernel(const T* x, const double* coefs, int64_t count, int64_t stride, bool first,
                                    double* acc) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    const double c = coefs[i / stride];
    const double previous = first ? 0.0 : acc[i];
    acc[i] = c == 0 ? previous : previous + c * static_cast<double>(x[i]);
  }
}

template <typename T>
__global__ void cast_kernel(const double* acc, int64_t count, T* out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = static_cast<T>(acc[i]);
  }
}

/// One group per instance: dots[b] = sum over x != 0 of x * y.
template <int GROUP, typename T>
__global__ void dot_kernel(const T* x, const T* y, int64_t batch, int64_t stride, double* dots) {
  const RowGroup<GROUP> group;
  if (group.row >= batch) return;
  const T* u = x + group.row * stride;
  const T* v = y + group.row * stride;
  double local = 0;
  for (int64_t q = group.lane; q < stride; q += GROUP) {
    if (u[q] != 0) local += static_cast<double>(u[q]) * static_cast<double>(v[q]);
  }
  const double total = group.reduce(local, SumOp());
  if (group.lane == 0) dots[group.row] = total;
}

template <typename T>
__global__ void finite_kernel(const T* x, int64_t count, T* out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = x[i] == -INFINITY ? T(0) : x[i];
  }
}

template <typename T>
__global__ void masked_kernel(const T* x, const T* mask, int64_t count, T* out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = mask[i] == -INFINITY ? T(-INFINITY) : x[i];
  }
}

template <typename T>
__global__ void copy_kernel(const T* from, int64_t count, T* out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = from[i];
  }
}

template <typename T>
__global__ void copy_block_kernel(const T* from, int64_t from_stride, int64_t from_offset, int64_t width,
                                  int64_t out_stride, int64_t out_offset, int64_t count, T* out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / width, q = i % width;
    out[r * out_stride + out_offset + q] = from[r * from_stride + from_offset + q];
  }
}

template <typename T>
__global__ void fill_zero_kernel(int64_t count, T* out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = T(0);
  }
}

template <typename T>
__global__ void scatter_ones_kernel(const int32_t* positions, int64_t positions_count, T* out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < positions_count;
       i += int64_t(gridDim.x) * blockDim.x) {
    out[positions[i]] = T(1);
  }
}

template <typename T>
__global__ void tile_kernel(const T* from, int64_t count, int64_t total, T* out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = from[i % count];
  }
}

/// One thread per column q: the rows in order, in double.
template <typename T>
__global__ void sum_rows_kernel(const T* x, int64_t rows, int64_t count, T* out) {
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q < count; q += int64_t(gridDim.x) * blockDim.x) {
    double total = 0;
    for (int64_t r = 0; r < rows; ++r) total += static_cast<double>(x[r * count + q]);
    out[q] = static_cast<T>(total);
  }
}

/// One thread per output element [j, i]: the rows in order, in double.
template <typename T>
__global__ void sum_rows_transposed_kernel(const T* x, int64_t rows, int64_t p, int64_t q, T* out) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < p * q; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e / p, i = e % p;
    double total = 0;
    for (int64_t r = 0; r < rows; ++r) total += static_cast<double>(x[(r * p + i) * q + j]);
    out[e] = static_cast<T>(total);
  }
}

/// One thread per output element (g, w): its group's members in order, in double.
template <typename T>
__global__ void gather_sum_kernel(const T* x, int64_t width, const int32_t* offsets, int64_t groups,
                                  const int32_t* members, T* out) {
  const int64_t total_count = groups * width;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total_count;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t g = e / width, w = e % width;
    double total = 0;
    for (int32_t m = offsets[g]; m < offsets[g + 1]; ++m) total += static_cast<double>(x[members[m] * width + w]);
    out[e] = static_cast<T>(total);
  }
}

/// One thread per row (REBAR's pair reads each row a few times; B rows of K classes).
template <typename T>
__global__ void rebar_pair_kernel(const T* scores, int64_t batch, int64_t classes, uint64_t seed, T* perturbed,
                                  T* conditional) {
  for (int64_t b = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; b < batch; b += int64_t(gridDim.x) * blockDim.x) {
    rebar_pair_row(scores + b * classes, classes, seed, static_cast<uint64_t>(b * classes), perturbed + b * classes,
                   conditional + b * classes);
  }
}

template <typename T>
__global__ void rebar_pair_backward_kernel(const T* scores, const T* grad, int64_t batch, int64_t classes,
                                           uint64_t seed, T* out) {
  for (int64_t b = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; b < batch; b += int64_t(gridDim.x) * blockDim.x) {
    rebar_pair_backward_row(scores + b * classes, grad + b * classes, classes, seed, static_cast<uint64_t>(b * classes),
                            out + b * classes);
  }
}

}  // namespace

template <typename T>
void parts_tile(const T* from, int64_t count, int64_t copies, T* out) {
  const int64_t total = count * copies;
  if (total > 0) launch("parts_tile", tile_kernel<T>, elementwise_blocks(total), kBlockThreads, from, count, total, out);
}

template <typename T>
void parts_sum_rows(const T* x, int64_t rows, int64_t count, T* out) {
  if (count > 0) launch("parts_sum_rows", sum_rows_kernel<T>, elementwise_blocks(count), kBlockThreads, x, rows, count, out);
}

template <typename T>
void parts_sum_rows_transposed(const T* x, int64_t rows, int64_t p, int64_t q, T* out) {
  if (p * q > 0) {
    launch("parts_sum_rows_transposed", sum_rows_transposed_kernel<T>, elementwise_blocks(p * q), kBlockThreads, x, rows,
           p, q, out);
  }
}

template <typename T>
void parts_gather_sum(const T* x, int64_t width, const int32_t* offsets, int64_t groups, const int32_t* members,
                      int64_t member_count, T* out) {
  if (groups * width == 0) return;
  Scratch device_offsets(static_cast<std::size_t>(groups + 1) * sizeof(int32_t));
  Scratch device_members(static_cast<std::size_t>(member_count > 0 ? member_count : 1) * sizeof(int32_t));
  copy_to_device(device_offsets.as<int32_t>(), offsets, static_cast<std::size_t>(groups + 1) * sizeof(int32_t));
  if (member_count > 0) {
    copy_to_device(device_members.as<int32_t>(), members, static_cast<std::size_t>(member_count) * sizeof(int32_t));
  }
  launch("parts_gather_sum", gather_sum_kernel<T>, elementwise_blocks(groups * width), kBlockThreads, x, width,
         device_offsets.as<int32_t>(), groups, device_members.as<int32_t>(), out);
}

template <typename T>
void rebar_pair(const T* scores, int64_t batch, int64_t classes, uint64_t seed, T* perturbed, T* conditional) {
  if (batch > 0) {
    launch("rebar_pair", rebar_pair_kernel<T>, elementwise_blocks(batch), kBlockThreads, scores, batch, classes, seed,
           perturbed, conditional);
  }
}

template <typename T>
void rebar_pair_backward(const T* scores, const T* grad, int64_t batch, int64_t classes, uint64_t seed, T* out) {
  if (batch > 0) {
    launch("rebar_pair_backward", rebar_pair_backward_kernel<T>, elementwise_blocks(batch), kBlockThreads, scores, grad,
           batch, classes, seed, out);
  }
}

template <typename T>
void parts_combine(const T* const* inputs, const double* coefs, int64_t terms, int64_t batch, int64_t stride, T* out) {
  const int64_t count = batch * stride;
  if (count == 0) return;
  Scratch acc(static_cast<std::size_t>(count) * sizeof(double));
  Scratch device_coefs(static_cast<std::size_t>(terms > 0 ? terms * batch : 1) * sizeof(double));
  if (terms > 0) copy_to_device(device_coefs.as<double>(), coefs, static_cast<std::size_t>(terms * batch) * sizeof(double));
  if (terms == 0) {
    launch("parts_fill_zero", fill_zero_kernel<T>, elementwise_blocks(count), kBlockThreads, count, out);
    return;
  }
  for (int64_t t = 0; t < terms; ++t) {
    launch("parts_combine_term", combine_term_kernel<T>, elementwise_blocks(count), kBlockThreads, inputs[t],
           device_coefs.as<double>() + t * batch, count, stride, t == 0, acc.as<double>());
  }
  launch("parts_cast", cast_kernel<T>, elementwise_blocks(count), kBlockThreads, acc.as<double>(), count, out);
}

template <typename T>
void parts_dot(const T* x, const T* y, int64_t batch, int64_t stride, double* dots) {
  if (batch == 0) return;
  Scratch device_dots(static_cast<std::size_t>(batch) * sizeof(double));
  LS_LAUNCH_ROWS(dot_kernel, batch, stride, x, y, batch, stride, device_dots.as<double>());
  copy_to_host(dots, device_dots.as<double>(), static_cast<std::size_t>(batch) * sizeof(double));
}

template <typename T>
void parts_finite(const T* x, int64_t count, T* out) {
  if (count > 0) launch("parts_finite", finite_kernel<T>, elementwise_blocks(count), kBlockThreads, x, count, out);
}

template <typename T>
void parts_masked(const T* x, const T* mask, int64_t count, T* out) {
  if (count > 0) launch("parts_masked", masked_kernel<T>, elementwise_blocks(count), kBlockThreads, x, mask, count, out);
}

template <typename T>
void parts_copy_block(const T* from, int64_t from_stride, int64_t from_offset, int64_t rows, int64_t width,
                      int64_t out_stride, int64_t out_offset, T* out) {
  const int64_t count = rows * width;
  if (count > 0) {
    launch("parts_copy_block", copy_block_kernel<T>, elementwise_blocks(count), kBlockThreads, from, from_stride,
           from_offset, width, out_stride, out_offset, count, out);
  }
}

template <typename T>
void parts_copy(const T* from, int64_t count, T* out) {
  if (count > 0) launch("parts_copy", copy_kernel<T>, elementwise_blocks(count), kBlockThreads, from, count, out);
}

template <typename T>
void parts_one_hot(const int32_t* positions, int64_t positions_count, int64_t count, T* out) {
  if (count == 0) return;
  launch("parts_fill_zero", fill_zero_kernel<T>, elementwise_blocks(count), kBlockThreads, count, out);
  if (positions_count == 0) return;
  Scratch device_positions(static_cast<std::size_t>(positions_count) * sizeof(int32_t));
  copy_to_device(device_positions.as<int32_t>(), positions, static_cast<std::size_t>(positions_count) * sizeof(int32_t));
  launch("parts_scatter_ones", scatter_ones_kernel<T>, elementwise_blocks(positions_count), kBlockThreads,
         device_positions.as<int32_t>(), positions_count, out);
}

LS_INSTANTIATE_PARTS_FAMILY(float)
LS_INSTANTIATE_PARTS_FAMILY(double)

}  // namespace cuda
}  // namespace ls
