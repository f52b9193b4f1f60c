// The k best spanning arborescences of one sentence (k-best non-projective dependency trees), written once for
// both backends: Lawler's (1972) partition scheme, as Murty (1968) used it for assignments and Camerini, Fratta &
// Maffioli (1980) for arborescences, over the constrained Chu-Liu-Edmonds of chu_liu_edmonds.h.
//
// A subproblem is the set of trees that contain every arc of IN and no arc of OUT; its best tree is the MAP tree
// of the scores with the arcs of OUT, and every other head of a modifier with an arc in IN, set to -inf (the
// single-root constraint is the argmax's own, so a forced root arc leaves no other root child). Take the best
// tree t of a subproblem (IN, OUT) and its free arcs e_1..e_r (those not in IN, by increasing modifier): the
// subproblems (IN + {e_1..e_{i-1}}, OUT + {e_i}), i = 1..r, partition the subproblem's trees other than t. So
// the trees come out in order of score by popping the subproblem with the best tree from a priority queue and
// pushing its children (Lawler 1972, sec. 2). Only the k - j best subproblems can still matter after j trees are
// listed, so the queue keeps at most k of them and drops the worst.
//
// Cost: each listed tree but the last is expanded into at most n children, one O(n^2) Chu-Liu-Edmonds each:
// O(k n^3) time, O(k^2 n) for the queue (a sorted array of slot indices), and O(n^2 + k (n + k)) memory (a
// subproblem's OUT grows by one arc per generation, so it holds fewer than k arcs). Camerini et al. (1980) and
// Zmigrod, Vieira & Cotterell (2021, "On Finding the K-best Non-projective Dependency Trees", with the single-root
// constraint) reach O(k n^2) by reusing one contraction for all the children of a tree. Here a child is not solved
// when the queue is full and its greedy bound (each word on its best allowed head, O(n) per child) does not beat
// the queue's worst.
//
// Ties: trees of equal score come out in the order the partition creates their subproblems. The queue pops the
// best score, and among equal scores the subproblem created first: split from the earlier listed tree, then
// excluding the arc of the smaller modifier; the root subproblem's tree, the argmax's (first maximum by node
// index), comes first. This order does not depend on k, and the queue drops only subproblems that cannot be
// among the k best, so the list for k is the first k of the list for any larger k. The same input gives the same
// list on both backends (the same double arithmetic: additions and comparisons only).
#pragma once
#include <math.h>

#include <cstdint>

#include "latent_struct/chu_liu_edmonds.h"
#include "latent_struct/common.h"
#include "latent_struct/log_math.h"

namespace ls {
namespace arborescence {

/// Ints of one queue slot for sentences of up to N words and k trees: its OUT count, its best tree's heads [N], its
/// IN as a forced head per modifier [N] (-1: free) and its OUT arcs [k] (h * n + m, the root arc of m as m * n + m).
LS_HOST_DEVICE inline int64_t kbest_slot_size(int64_t N, int64_t k) { return 1 + 2 * N + k; }
/// Scratch doubles: the constrained scores [N * N], the slots' tree scores [k], a bound per modifier [N], the
/// Chu-Liu-Edmonds scratch.
LS_HOST_DEVICE inline int64_t kbest_work_size(int64_t N, int64_t k) {
  return N * N + k + N + arborescence_work_size(N);
}
/// Scratch ints: k slots, the queue's order and free list [k each], the forced heads being built
/// [N], a child's tree [N], the Chu-Liu-Edmonds scratch.
LS_HOST_DEVICE inline int64_t kbest_iwork_size(int64_t N, int64_t k) {
  return k * (kbest_slot_size(N, k) + 2) + 2 * N + arborescence_iwork_size(N);
}

/// The k best trees of a sentence of n <= N words with scores s[h*N + m] (h heads m) and s[m*N + m] (root heads
/// m), `single_root` as for max_arborescence: calls emit(j, heads, score) for j = 0, 1, ... in order of score
/// (ties as above), heads[m] = h or m for the root (n entries), score the sum of its arcs in double; returns how
/// many it listed (k, or fewer when fewer trees have a finite score). Scratch: kbest_work_size(N, k) doubles,
/// kbest_iwork_size(N, k) ints.
template <typename T, typename Emit>
LS_HOST_DEVICE int64_t k_best_arborescences(const T* s, int64_t N, int64_t n, bool single_root, int64_t k,
                                            double* work, int32_t* iwork, Emit emit) {
  const double kNegInf = neg_inf<double>();
  if (n <= 0 || k <= 0) return 0;
  const int64_t slot_ints = kbest_slot_size(N, k);
  double* M = work;  // the scores under the constraints of the subproblem being expanded, stride n
  double* slot_score = M + N * N;
  double* column_best = slot_score + k;  // the greedy bound's best allowed head score per modifier
  double* cle_work = column_best + N;
  int32_t* slots = iwork;
  int32_t* order = slots + k * slot_ints;  // the live slots, worst first: score ascending, then created last first
  int32_t* free_slots = order + k;
  int32_t* forced = free_slots + k;
  int32_t* child = forced + N;
  int32_t* cle_iwork = child + N;
  auto slot = [&](int64_t i) -> int32_t* { return slots + i * slot_ints; };
  int64_t live = 0, free_count = k;
  for (int64_t i = 0; i < k; ++i) free_slots[i] = static_cast<int32_t>(k - 1 - i);

  // Adds a subproblem (its tree `heads`, IN `forced_heads`, OUT = `outs` arcs of `out` plus `extra_out`), keeping
  // at most `capacity` live: when full it replaces the worst, or is dropped when not better than it. Subproblems
  // are pushed in the order they are created, so an equal score pushed earlier is better: the new one goes after
  // the live ones of lower score only.
  auto push = [&](double score, const int32_t* heads, const int32_t* forced_heads, const int32_t* out,
                  int32_t outs, int32_t extra_out, int64_t capacity) {
    int64_t lo = 0, hi = live;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (slot_score[order[mid]] < score) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    int32_t at;
    if (live < capacity) {
      at = free_slots[--free_count];
      for (int64_t i = live; i > lo; --i) order[i] = order[i - 1];
      order[lo] = at;
      ++live;
    } else {
      if (lo == 0) return;
      at = order[0];
      for (int64_t i = 0; i + 1 < lo; ++i) order[i] = order[i + 1];
      order[lo - 1] = at;
    }
    int32_t* e = slot(at);
    e[0] = outs + (extra_out >= 0 ? 1 : 0);
    for (int64_t m = 0; m < n; ++m) {
      e[1 + m] = heads[m];
      e[1 + N + m] = forced_heads[m];
    }
    for (int32_t i = 0; i < outs; ++i) e[1 + 2 * N + i] = out[i];
    if (extra_out >= 0) e[1 + 2 * N + outs] = extra_out;
    slot_score[at] = score;
  };

  for (int64_t h = 0; h < n; ++h) {
    for (int64_t m = 0; m < n; ++m) M[h * n + m] = static_cast<double>(s[h * N + m]);
  }
  const double best = static_cast<double>(max_arborescence<double>(M, n, n, single_root, cle_work, cle_iwork, child));
  if (!(best > kNegInf)) return 0;
  for (int64_t m = 0; m < n; ++m) forced[m] = -1;
  push(best, child, forced, nullptr, 0, -1, k);

  int64_t listed = 0;
  while (listed < k && live > 0) {
    const int32_t top = order[--live];
    const int32_t* parent = slot(top);
    const double parent_score = slot_score[top];
    const int32_t outs = parent[0];
    const int32_t* heads = parent + 1;
    const int32_t* parent_forced = parent + 1 + N;
    const int32_t* out = parent + 1 + 2 * N;
    emit(listed, heads, parent_score);
    ++listed;
    if (listed == k) break;
    const int64_t capacity = k - listed;

    // The parent's constraints, then its children: exclude free arc i, then force it in for the next ones.
    for (int64_t h = 0; h < n; ++h) {
      for (int64_t m = 0; m < n; ++m) M[h * n + m] = static_cast<double>(s[h * N + m]);
    }
    for (int64_t m = 0; m < n; ++m) {
      forced[m] = parent_forced[m];
      if (forced[m] < 0) continue;
      for (int64_t h = 0; h < n; ++h) {
        if (h != forced[m]) M[h * n + m] = kNegInf;
      }
    }
    for (int32_t i = 0; i < outs; ++i) M[out[i]] = kNegInf;
    // The greedy bound: every word on its best allowed head, acyclicity and the root constraint relaxed, is at
    // least any tree's score. `slack` (1e-9 of the largest possible sum of magnitudes) covers the rounding of
    // this running sum and of the trees' own sums, so a child is skipped only when it would surely be dropped.
    double bound = 0, slack = 0;
    for (int64_t m = 0; m < n; ++m) {
      double top = kNegInf, size = 0;
      for (int64_t h = 0; h < n; ++h) {
        const double v = M[h * n + m];
        top = v > top ? v : top;
        if (v > kNegInf) size = fabs(v) > size ? fabs(v) : size;
      }
      column_best[m] = top;
      bound += top;
      slack += size;
    }
    slack *= 1e-9;
    for (int64_t m = 0; m < n; ++m) {
      if (forced[m] >= 0) continue;
      const bool full = live >= capacity;
      if (full && slot_score[order[0]] >= parent_score) break;  // no child can enter
      const int32_t h = heads[m];
      const int32_t arc = static_cast<int32_t>(h * n + m);
      const double kept = M[arc];
      double other = kNegInf;  // m's best head but h
      for (int64_t x = 0; x < n; ++x) {
        if (x != h) other = M[x * n + m] > other ? M[x * n + m] : other;
      }
      if (other > kNegInf && !(full && bound - column_best[m] + other + slack <= slot_score[order[0]])) {
        M[arc] = kNegInf;
        const double score = static_cast<double>(max_arborescence<double>(M, n, n, single_root, cle_work, cle_iwork, child));
        M[arc] = kept;
        if (score > kNegInf) push(score, child, forced, out, outs, arc, capacity);
      }
      bound += kept - column_best[m];
      column_best[m] = kept;
      forced[m] = h;
      for (int64_t x = 0; x < n; ++x) {
        if (x != h) M[x * n + m] = kNegInf;
      }
    }
    free_slots[free_count++] = top;
  }
  return listed;
}

}  // namespace arborescence
}  // namespace ls
