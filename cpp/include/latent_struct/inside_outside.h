// Folds over the split points of a chart item, written once for both backends over a group of "teams":
// the threads that fill one chart together (CPU: one thread, one team of one lane; CUDA: a block, a warp per
// team). Items of one width are independent: team t takes items t, t + teams(), ...; its lanes take the
// split points k = lane, lane + lanes(), ... and combine with the team's reductions, which return the same
// value on every lane. group.sync() makes every thread's chart writes visible to the group.
//
// Team interface: lane(), lanes(), team(), teams(), rank() (= team * lanes + lane), size(), sync(), sync_team(),
// sum(v), max(v), argmax(Best) (larger value, smaller index on ties; index -1 loses).
#pragma once
#include <cstdint>

#include "latent_struct/common.h"
#include "latent_struct/log_math.h"

namespace ls {

/// out[l] = log sum_{k<n} exp(a[k lanes + l] + b[k lanes + l]) for every lane l < lanes (-inf where every sum is
/// -inf), shifted by each lane's max: a log-sum-exp down the columns of two [n][lanes] blocks, for sentences side by
/// side in lanes. `terms` is scratch of n lanes elements, `top` of lanes. Plain here; the CPU group overloads it
/// (cpp/cpu/tree_ops.h), found by argument-dependent lookup like log_math.h's row reductions.
template <typename Group, typename T>
LS_HOST_DEVICE void lanes_log_sum_exp_of_sums(const Group& g, const T* a, const T* b, int64_t n, int64_t lanes,
                                              T* terms, T* top, T* out) {
  for (int64_t l = 0; l < lanes; ++l) top[l] = neg_inf<T>();
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t l = 0; l < lanes; ++l) {
      const T v = a[k * lanes + l] + b[k * lanes + l];
      terms[k * lanes + l] = v;
      top[l] = v > top[l] ? v : top[l];
    }
  }
  for (int64_t l = 0; l < lanes; ++l) out[l] = top[l] == neg_inf<T>() ? T(0) : top[l];  // the shift
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t l = 0; l < lanes; ++l) terms[k * lanes + l] -= out[l];
  }
  row_exp_shifted_sum(g, terms, T(0), terms, n * lanes);
  for (int64_t l = 0; l < lanes; ++l) out[l] = 0;
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t l = 0; l < lanes; ++l) out[l] += terms[k * lanes + l];
  }
  for (int64_t l = 0; l < lanes; ++l) out[l] = top[l] == neg_inf<T>() ? top[l] : top[l] + log_of(out[l]);
}

namespace tree {

/// A value and the index it was found at.
template <typename T>
struct Best {
  T value;
  int64_t index;
};

template <typename T>
LS_HOST_DEVICE inline Best<T> better(Best<T> a, Best<T> b) {
  if (a.index < 0) return b;
  if (b.index < 0) return a;
  if (a.value > b.value || (a.value == b.value && a.index < b.index)) return a;
  return b;
}

/// One thread is the whole group: one team of one lane.
struct SerialTeams {
  LS_HOST_DEVICE int64_t lane() const { return 0; }
  LS_HOST_DEVICE int64_t lanes() const { return 1; }
  LS_HOST_DEVICE int64_t team() const { return 0; }
  LS_HOST_DEVICE int64_t teams() const { return 1; }
  LS_HOST_DEVICE int64_t rank() const { return 0; }
  LS_HOST_DEVICE int64_t size() const { return 1; }
  LS_HOST_DEVICE void sync() const {}
  LS_HOST_DEVICE void sync_team() const {}
  template <typename T>
  LS_HOST_DEVICE T sum(T v) const { return v; }
  template <typename T>
  LS_HOST_DEVICE T max(T v) const { return v; }
  template <typename T>
  LS_HOST_DEVICE Best<T> argmax(Best<T> v) const { return v; }
};

/// logsumexp_k term(k) over k in [begin, end) (-inf when every term is -inf), max-shifted.
template <typename T, typename Teams, typename Term>
LS_HOST_DEVICE T team_log_sum_exp(const Teams& g, int64_t begin, int64_t end, Term term) {
  T top = neg_inf<T>();
  for (int64_t k = begin + g.lane(); k < end; k += g.lanes()) {
    const T v = term(k);
    top = v > top ? v : top;
  }
  top = g.max(top);
  if (top == neg_inf<T>()) return top;
  T sum = 0;
  for (int64_t k = begin + g.lane(); k < end; k += g.lanes()) sum += exp_of(term(k) - top);
  return top + log_of(g.sum(sum));
}

/// log(exp(a) + exp(b)): -inf when both are.
template <typename T>
LS_HOST_DEVICE T log_add_exp(T a, T b) {
  const T top = a > b ? a : b;
  if (top == neg_inf<T>()) return top;
  const T low = a > b ? b : a;
  return top + log_of(T(1) + exp_of(low - top));
}

/// sum_k w_k value(k, log w_k) with w_k = exp(term(k) - log_norm), over k in [begin, end) with w_k > 0:
/// an expectation under the split distribution of an item whose log-normalizer is log_norm (0 when the item
/// is unreachable, log_norm = -inf).
template <typename T, typename Teams, typename Term, typename Value>
LS_HOST_DEVICE T team_expectation(const Teams& g, int64_t begin, int64_t end, T log_norm, Term term, Value value) {
  if (log_norm == neg_inf<T>()) return T(0);
  T sum = 0;
  for (int64_t k = begin + g.lane(); k < end; k += g.lanes()) {
    const T t = term(k);
    if (t == neg_inf<T>()) continue;
    const T log_w = t - log_norm;
    sum += exp_of(log_w) * value(k, log_w);
  }
  return g.sum(sum);
}

/// sum_k term(k) over k in [begin, end).
template <typename T, typename Teams, typename Term>
LS_HOST_DEVICE T team_sum(const Teams& g, int64_t begin, int64_t end, Term term) {
  T sum = 0;
  for (int64_t k = begin + g.lane(); k < end; k += g.lanes()) sum += term(k);
  return g.sum(sum);
}

/// exp(log_weight - parent_inside): the probability that a parent item is built from one of its splits, whose
/// log weight (the children's inside values plus the parent's own score) is log_weight; 0 for an unreachable
/// parent. Bounded by 1, so top-down passes over these products stay in linear space without overflow.
template <typename T>
LS_HOST_DEVICE T split_probability(T log_weight, T parent_inside) {
  return parent_inside == neg_inf<T>() ? T(0) : exp_of(log_weight - parent_inside);
}

/// (max_k term(k), first argmax) over k in [begin, end), end > begin.
template <typename T, typename Teams, typename Term>
LS_HOST_DEVICE Best<T> team_argmax(const Teams& g, int64_t begin, int64_t end, Term term) {
  Best<T> best{neg_inf<T>(), -1};
  for (int64_t k = begin + g.lane(); k < end; k += g.lanes()) best = better(best, Best<T>{term(k), k});
  return g.argmax(best);
}

/// Sets `count` elements to `value`, spread over the group's threads.
template <typename T, typename Teams>
LS_HOST_DEVICE void group_fill(const Teams& g, T* data, int64_t count, T value) {
  for (int64_t k = g.rank(); k < count; k += g.size()) data[k] = value;
}

}  // namespace tree
}  // namespace ls
