// Maximum spanning arborescence of one sentence (non-projective MAP dependency tree), written once for both
// backends: Chu-Liu-Edmonds (Chu & Liu 1965; Edmonds 1967) in Tarjan's (1977) form over a dense score matrix,
// contracting one critical cycle at a time, O(n^2) in all. With `single_root`, the exact root constraint of
// Gabow & Tarjan (1984) as given by Zmigrod, Vieira & Cotterell (2020, "Please Mind the Root"): once the greedy
// graph is acyclic, while the root has several children, swap the root arc whose replacement by the child's best
// non-root arc loses least (the root arc stays in the graph), contracting any cycle the swap closes.
//
// Nodes are 0 (the root) and 1..n (word i is node i + 1); W[h][m] is the score of node h heading node m on the
// current (contracted) graph. A contracted cycle keeps its smallest member's index. No recursion, no allocation:
// the caller passes arborescence_work_size(N) doubles and arborescence_iwork_size(N) ints of scratch.
#pragma once
#include <cstdint>

#include "latent_struct/common.h"
#include "latent_struct/log_math.h"

namespace ls {
namespace arborescence {

/// Scratch doubles for sentences of up to N words: the (N+1)^2 score matrix W and two per-node vectors.
LS_HOST_DEVICE inline int64_t arborescence_work_size(int64_t N) { return (N + 1) * (N + 1) + 2 * (N + 1); }
/// Scratch ints: the (N+1)^2 original arcs behind W and 15 per-node vectors (N <= 46340: arc ids fit int32).
LS_HOST_DEVICE inline int64_t arborescence_iwork_size(int64_t N) { return (N + 1) * (N + 1) + 15 * (N + 1) + 1; }

/// The best tree of a sentence of n <= N words with scores s[h*N + m] (h heads m) and s[m*N + m] (root heads
/// m): heads[m] = h, or m for the root; returns its score (the sum of its arcs), or -inf, with heads[m] = m,
/// when no tree of finite score exists. `single_root`: exactly one arc leaves the root. Ties go to the first
/// maximum by node index (the root first), identically on both backends.
template <typename T>
LS_HOST_DEVICE T max_arborescence(const T* s, int64_t N, int64_t n, bool single_root, double* work,
                                  int32_t* iwork, int32_t* heads) {
  const double kNegInf = neg_inf<double>();
  if (n <= 0) return static_cast<T>(0);
  const int64_t S = n + 1;  // nodes, and the stride of W and arc
  const int32_t nodes = static_cast<int32_t>(S);
  double* W = work;
  double* best = W + S * S;   // score of each node's chosen in-arc, W[par[m]][m]
  double* nrbest = best + S;  // score of each node's best non-root in-arc, W[nr[m]][m]
  int32_t* arc = iwork;       // original arc u * S + v realizing W[h][m], once h or m is a merged node
  int32_t* par = arc + S * S;
  int32_t* nr = par + S;
  int32_t* grp = nr + S;      // the node a contracted member was merged into
  int32_t* dead = grp + S;    // the level at which a node was merged away (n + 1: never)
  int32_t* alive = dead + S;  // the current nodes, ascending, root first
  int32_t* mark = alive + S;
  int32_t* enter = mark + S;  // expansion: the original node that the arc entering a node lands on
  int32_t* cyc = enter + S;   // the members of the cycle being contracted
  int32_t* level_rep = cyc + S;
  int32_t* level_start = level_rep + S;     // S + 1
  int32_t* mem_node = level_start + S + 1;  // 2S: members of every contracted cycle, level by level
  int32_t* mem_arc = mem_node + 2 * S;      // 2S: original arc of each member's cycle in-arc
  int32_t* merged = mem_arc + 2 * S;        // whether a node has stood for a contracted cycle
  // arc[] is written at each contraction for the new node's row and column only; other arcs are original.
  auto origin = [&](int64_t h, int64_t m) -> int32_t {
    return merged[h] || merged[m] ? arc[h * S + m] : static_cast<int32_t>(h * S + m);
  };

  // W row by row, with each node's first best non-root head on the way, then the root's arcs.
  for (int64_t m = 0; m < S; ++m) {
    nrbest[m] = kNegInf;
    nr[m] = -1;
    alive[m] = static_cast<int32_t>(m);
    grp[m] = static_cast<int32_t>(m);
    dead[m] = static_cast<int32_t>(n + 1);
    merged[m] = 0;
  }
  for (int64_t h = 1; h < S; ++h) {
    const T* row = s + (h - 1) * N;
    double* Wh = W + h * S;
    Wh[0] = kNegInf;
    for (int64_t m = 1; m < S; ++m) {
      const double w = m == h ? kNegInf : static_cast<double>(row[m - 1]);
      Wh[m] = w;
      if (w > nrbest[m]) {
        nrbest[m] = w;
        nr[m] = static_cast<int32_t>(h);
      }
    }
  }
  bool ok = true;
  W[0] = kNegInf;
  for (int64_t m = 1; m < S; ++m) {
    W[m] = static_cast<double>(s[(m - 1) * N + (m - 1)]);
    if (W[m] >= nrbest[m]) {
      best[m] = W[m];
      par[m] = 0;
    } else {
      best[m] = nrbest[m];
      par[m] = nr[m];
    }
    if (!(best[m] > kNegInf)) ok = false;
  }
  int64_t count = S;

  int32_t levels = 0;
  int32_t members = 0;
  int32_t fresh = -1;  // after the first root swap: the one node whose in-arc changed since the graph was acyclic
  while (ok) {
    int32_t cycle_at = -1;
    if (fresh < 0) {
      // Any cycle of the chosen in-arcs: walk up from each unvisited node; mark = walk id, -1 once settled.
      for (int64_t i = 0; i < count; ++i) mark[alive[i]] = 0;
      for (int64_t i = 1; i < count && cycle_at < 0; ++i) {
        const int32_t start = alive[i];
        if (mark[start] != 0) continue;
        int32_t x = start;
        while (x != 0 && mark[x] == 0) {
          mark[x] = start + 1;
          x = par[x];
        }
        if (x != 0 && mark[x] == start + 1) cycle_at = x;
        for (int32_t y = start; y != 0 && mark[y] == start + 1; y = par[y]) mark[y] = -1;
      }
    } else {
      int32_t x = par[fresh];
      while (x != 0 && x != fresh) x = par[x];
      if (x == fresh) cycle_at = fresh;
    }

    if (cycle_at >= 0) {
      // Contract the cycle into its smallest member c. Arcs entering c through member m are reweighted by
      // W[x][m] - best[m] (the score of swapping m's cycle arc for it); arcs leaving c take the best member.
      int64_t k = 0;
      int32_t x = cycle_at;
      do {
        int64_t j = k++;  // insertion sort, ascending
        while (j > 0 && cyc[j - 1] > x) {
          cyc[j] = cyc[j - 1];
          --j;
        }
        cyc[j] = x;
        x = par[x];
      } while (x != cycle_at);
      const int32_t c = cyc[0];
      level_start[levels] = members;
      level_rep[levels] = c;
      for (int64_t j = 0; j < k; ++j) {
        const int32_t m = cyc[j];
        mem_node[members] = m;
        mem_arc[members] = origin(par[m], m);
        ++members;
        mark[m] = -2;
        if (m != c) {
          grp[m] = c;
          dead[m] = levels;
        }
      }
      ++levels;
      int64_t kept = 0;
      for (int64_t i = 0; i < count; ++i) {
        if (mark[alive[i]] != -2 || alive[i] == c) alive[kept++] = alive[i];
      }
      count = kept;
      double b = kNegInf, nb = kNegInf;
      int32_t nbh = -1;
      for (int64_t i = 0; i < count; ++i) {
        const int32_t y = alive[i];
        if (y == c) continue;
        // First maxima over the members, branch-free (the comparisons are unpredictable).
        double in = kNegInf, out = kNegInf;
        int32_t in_m = c, out_m = c;
        for (int64_t j = 0; j < k; ++j) {
          const int32_t m = cyc[j];
          const double v = W[y * S + m] - best[m];
          const double o = W[m * S + y];
          const bool bi = v > in, bo = o > out;
          in = bi ? v : in;
          in_m = bi ? m : in_m;
          out = bo ? o : out;
          out_m = bo ? m : out_m;
        }
        const int32_t in_arc = origin(y, in_m), out_arc = origin(out_m, y);
        W[y * S + c] = in;
        arc[y * S + c] = in_arc;
        if (y == 0) {
          b = in;
          continue;
        }
        // W[c][y] is the best of the members' arcs into y, so y's chosen scores are unchanged.
        W[c * S + y] = out;
        arc[c * S + y] = out_arc;
        if (mark[par[y]] == -2) par[y] = c;
        if (nr[y] >= 0 && mark[nr[y]] == -2) nr[y] = c;
        if (in > nb) {
          nb = in;
          nbh = y;
        }
      }
      merged[c] = 1;
      nrbest[c] = nb;
      nr[c] = nbh;
      if (b >= nb) {
        best[c] = b;
        par[c] = 0;
      } else {
        best[c] = nb;
        par[c] = nbh;
      }
      if (!(best[c] > kNegInf)) ok = false;
      mark[c] = 0;
      if (fresh >= 0) fresh = c;
      continue;
    }

    if (!single_root) break;
    // Acyclic: with several root children, move the one that loses least to its best non-root head.
    int64_t children = 0;
    int32_t swap = -1;
    double loss = 0;
    for (int64_t i = 1; i < count; ++i) {
      const int32_t y = alive[i];
      if (par[y] != 0) continue;
      ++children;
      if (nrbest[y] > kNegInf && (swap < 0 || best[y] - nrbest[y] < loss)) {
        loss = best[y] - nrbest[y];
        swap = y;
      }
    }
    if (children <= 1) break;
    if (swap < 0) {
      ok = false;
      break;
    }
    par[swap] = nr[swap];
    best[swap] = nrbest[swap];
    fresh = swap;
  }

  if (!ok) {
    for (int64_t m = 0; m < n; ++m) heads[m] = static_cast<int32_t>(m);
    return neg_inf<T>();
  }

  // Expansion, last contraction first: the arc entering a contracted node enters its cycle at the member that
  // holds its original node v; every other member keeps its cycle arc. `mark` holds original heads by node.
  for (int64_t i = 1; i < count; ++i) {
    const int32_t y = alive[i];
    const int32_t a = origin(par[y], y);
    mark[a % nodes] = a / nodes;
    enter[y] = a % nodes;
  }
  for (int32_t L = levels - 1; L >= 0; --L) {
    const int32_t v = enter[level_rep[L]];
    int32_t holder = v;
    while (dead[holder] < L) holder = grp[holder];
    const int32_t end = L + 1 < levels ? level_start[L + 1] : members;
    for (int32_t j = level_start[L]; j < end; ++j) {
      const int32_t m = mem_node[j];
      if (m == holder) {
        enter[m] = v;
      } else {
        const int32_t a = mem_arc[j];
        mark[a % nodes] = a / nodes;
        enter[m] = a % nodes;
      }
    }
  }

  double score = 0;
  for (int64_t m = 1; m < S; ++m) {
    const int64_t h = mark[m];
    heads[m - 1] = static_cast<int32_t>(h == 0 ? m - 1 : h - 1);
    score += static_cast<double>(h == 0 ? s[(m - 1) * N + (m - 1)] : s[(h - 1) * N + (m - 1)]);
  }
  if (!(score > kNegInf)) {
    for (int64_t m = 0; m < n; ++m) heads[m] = static_cast<int32_t>(m);
    return neg_inf<T>();
  }
  return static_cast<T>(score);
}

}  // namespace arborescence
}  // namespace ls
