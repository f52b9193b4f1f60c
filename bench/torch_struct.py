#!/usr/bin/env python3
"""torch-struct's CPU times for the sizes of issues 18, 19 and 21, to set beside this library's bench.

What it times: float32 on the CPU, the median over --reps runs after one warm-up, on a fresh distribution, of --op:
- `marginals` (default): "log Z + marginals" as torch-struct computes them (`dist.partition`, then `dist.marginals`:
  autograd through the log-partition for the dynamic programs, the closed-form Matrix-Tree inverse for
  NonProjectiveDependencyCRF);
- `topk`: `dist.topk(K)` (the K-max semiring's K best structures as parts; --k, default 16);
- `kl`, `cross_entropy`: `dist.kl(other)`, `dist.cross_entropy(other)` against a second distribution on other
  standard normal scores (the KL-divergence and cross-entropy semirings; values only, no gradients).

torch-struct is not a dependency and nothing here downloads: point --torch-struct DIR (or TORCH_STRUCT_DIR) at a
checkout, for example from the stored mirror:

    # fetch github:harvardnlp/pytorch-struct (gives a bare git dir, e.g. /work/.mirror/harvardnlp+pytorch-struct/repo)
    mkdir -p /tmp/torch-struct
    git --git-dir /work/.mirror/harvardnlp+pytorch-struct/repo archive HEAD | tar -x -C /tmp/torch-struct
    /usr/bin/python3 bench/torch_struct.py --torch-struct /tmp/torch-struct --threads 1 --skip-slow

Needs PyTorch (Debian's python3-torch works). Sizes are (B, N[, C]) as in the issue: a chain of N positions has
edges [B, N-1, C, C]; TreeCRF takes spans [B, N, N, 1]; the dependency structures take arcs [B, N, N] (root on
the diagonal), single root (DependencyCRF multiroot=False, NonProjectiveDependencyCRF's default), matching this
library's default singleRoot: true. SemiMarkovCRF sizes are (B, N, K, C), edges [B, N-1, K, C, C]; AlignmentCRF sizes
(B, N, M), scores [B, N, M, 3] (global alignment); SentCFG sizes (B, N, NT, T), scores (terms [B, N, T], rules
[B, NT, NT+T, NT+T], roots [B, NT]).

A case that torch-struct cannot run is reported, not timed: its row has "ms": null and the error. AlignmentCRF is one:
at torch-struct's HEAD (7146de5) its Alignment calls `semiring.one_`, which the LogSemiring no longer has, before it
reaches its merge step, and that step needs the `genbmm` extension (a CUDA build; not installable here).

--semimarkov-check FILE writes, for the SemiMarkovCRF case (32, 25, 4, 10) with standard normal edges and random
lengths (one of them N), FILE.json ({shape, lengths, log_z}) and the float32 arrays FILE.edges.bin and
FILE.marginals.bin (row-major, torch-struct's layout), so that the caller can compare its log Z and marginals.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# (structure, size, slow): `slow` rows take tens of seconds to minutes per run in torch-struct.
CASES = [
    ("LinearChainCRF", (32, 25, 20), False),
    ("LinearChainCRF", (256, 128, 32), True),
    ("LinearChainCRF", (1024, 64, 16), True),
    ("TreeCRF", (32, 25), False),
    ("TreeCRF", (32, 64), False),
    ("TreeCRF", (128, 64), False),
    ("DependencyCRF", (32, 25), False),
    ("DependencyCRF", (32, 64), False),
    ("NonProjectiveDependencyCRF", (32, 25), False),
    ("NonProjectiveDependencyCRF", (32, 64), False),
    ("NonProjectiveDependencyCRF", (256, 64), False),
    ("NonProjectiveDependencyCRF", (32, 128), False),
    ("SemiMarkovCRF", (32, 25, 4, 10), False),
    ("AlignmentCRF", (32, 25, 25), False),
    ("AlignmentCRF", (8, 1000, 1000), True),
    ("SentCFG", (8, 20, 30, 60), False),
]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--torch-struct", default=os.environ.get("TORCH_STRUCT_DIR"),
                        help="directory holding the torch_struct package (default: $TORCH_STRUCT_DIR)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--reps", type=int, default=5, help="timed runs per case, after one warm-up (default 5)")
    parser.add_argument("--slow-reps", type=int, default=1,
                        help="timed runs for the slow chains, with no warm-up (default 1)")
    parser.add_argument("--only", default="",
                        help="comma-separated structure names to run (e.g. NonProjectiveDependencyCRF,TreeCRF)")
    parser.add_argument("--skip-slow", action="store_true",
                        help="skip the chains (256,128,32) and (1024,64,16), minutes each in torch-struct, and the "
                             "(8, 1000, 1000) alignments")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall time (default) or this process's CPU time, steadier on a shared machine at 1 thread")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--op", choices=list(OPS), default="marginals", help="what to time (see above)")
    parser.add_argument("--k", type=int, default=16, help="K of --op topk (default 16)")
    parser.add_argument("--json", help="write {torch, threads, clock, rows: [{structure, size, ms, error}]} to this file")
    parser.add_argument("--semimarkov-check", metavar="FILE",
                        help="write SemiMarkovCRF edges, lengths, log Z and marginals to FILE.json/.edges.bin/.marginals.bin")
    return parser.parse_args()


def git_commit(directory):
    """The commit of a torch-struct checkout, when it is a git work tree (an archive has none)."""
    try:
        return subprocess.run(["git", "-C", directory, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def potentials(torch, structure, size, generator):
    if structure == "LinearChainCRF":
        batch, length, labels = size
        shape = (batch, length - 1, labels, labels)
    elif structure == "TreeCRF":
        batch, length = size
        shape = (batch, length, length, 1)
    elif structure == "SemiMarkovCRF":
        batch, length, span, labels = size
        shape = (batch, length - 1, span, labels, labels)
    elif structure == "AlignmentCRF":
        batch, length, target = size
        shape = (batch, length, target, 3)
    elif structure == "SentCFG":
        batch, length, nonterminals, preterminals = size
        symbols = nonterminals + preterminals
        return tuple(torch.randn(shape, generator=generator, dtype=torch.float32) for shape in
                     ((batch, length, preterminals), (batch, nonterminals, symbols, symbols), (batch, nonterminals)))
    else:
        batch, length = size
        shape = (batch, length, length)
    return torch.randn(shape, generator=generator, dtype=torch.float32)


def distribution(torch_struct, structure, scores):
    if structure == "LinearChainCRF":
        return torch_struct.LinearChainCRF(scores)
    if structure == "TreeCRF":
        return torch_struct.TreeCRF(scores)
    if structure == "DependencyCRF":
        return torch_struct.DependencyCRF(scores, multiroot=False)
    if structure == "SemiMarkovCRF":
        return torch_struct.SemiMarkovCRF(scores)
    if structure == "AlignmentCRF":
        return torch_struct.AlignmentCRF(scores)
    if structure == "SentCFG":
        return torch_struct.SentCFG(scores)
    return torch_struct.NonProjectiveDependencyCRF(scores, multiroot=False)


def log_z_and_marginals(torch, dist, other, k):
    log_z = dist.partition
    marginals = dist.marginals
    parts = marginals if isinstance(marginals, tuple) else (marginals,)  # SentCFG: (terms, rules, roots, spans)
    if not (torch.isfinite(log_z).all() and all(torch.isfinite(m).all() for m in parts)):
        raise RuntimeError("non-finite log Z or marginals")


def k_best(torch, dist, other, k):
    if not torch.isfinite(dist.topk(k)).all():
        raise RuntimeError("non-finite k-best parts")


def divergence(name):
    def run(torch, dist, other, k):
        if not torch.isfinite(getattr(dist, name)(other)).all():
            raise RuntimeError(f"non-finite {name}")
    return run


# What --op times, given a fresh distribution, a second one on other scores (kl, cross_entropy) and K.
OPS = {"marginals": log_z_and_marginals, "topk": k_best, "kl": divergence("kl"),
       "cross_entropy": divergence("cross_entropy")}


def time_case(torch, torch_struct, structure, scores, other_scores, op, k, warmup, reps, clock):
    def once():
        dist = distribution(torch_struct, structure, scores)  # fresh ones: partition and marginals are cached
        other = distribution(torch_struct, structure, other_scores) if other_scores is not None else None
        start = clock()
        OPS[op](torch, dist, other, k)
        return (clock() - start) * 1e3

    for _ in range(warmup):
        once()
    return statistics.median(once() for _ in range(reps))


def semimarkov_check(torch, torch_struct, path, generator):
    """torch-struct's log Z and marginals of a SemiMarkovCRF on standard normal edges with random lengths."""
    batch, length, span, labels = 32, 25, 4, 10
    edges = torch.randn((batch, length - 1, span, labels, labels), generator=generator, dtype=torch.float32)
    lengths = torch.randint(1, length + 1, (batch,), generator=generator)
    lengths[0] = length  # torch-struct asks for one sequence of full length
    dist = torch_struct.SemiMarkovCRF(edges, lengths=lengths)
    log_z = dist.partition
    marginals = dist.marginals
    edges.detach().numpy().tofile(path + ".edges.bin")
    marginals.detach().to(torch.float32).numpy().tofile(path + ".marginals.bin")
    with open(path + ".json", "w") as out:
        json.dump({"shape": list(edges.shape), "lengths": lengths.tolist(), "log_z": log_z.tolist()}, out)
        out.write("\n")


def main():
    args = parse_args()
    if not args.torch_struct:
        sys.exit("torch_struct.py: give --torch-struct DIR or TORCH_STRUCT_DIR (see the docstring)")
    sys.path.insert(0, os.path.abspath(args.torch_struct))
    import torch
    import torch_struct

    torch.set_num_threads(args.threads)
    only = {name for name in args.only.split(",") if name}
    unknown = only - {case[0] for case in CASES}
    if unknown:
        sys.exit(f"torch_struct.py: unknown structure(s) in --only: {', '.join(sorted(unknown))}")
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    generator = torch.Generator().manual_seed(args.seed)
    commit = git_commit(args.torch_struct)
    print(f"torch {torch.__version__}, torch-struct {getattr(torch_struct, 'version', '?')}"
          f"{' (' + commit + ')' if commit else ''} from {args.torch_struct}, {torch.get_num_threads()} thread(s), "
          f"float32, {args.op if args.op != 'topk' else f'topk({args.k})'}, {args.clock} time, median of {args.reps} "
          f"(slow chains: {args.slow_reps})")
    print()
    print("| structure | size | torch-struct ms |")
    print("| --- | --- | --- |")
    rows = []
    for structure, size, slow in CASES:
        if (only and structure not in only) or (slow and args.skip_slow):
            continue
        scores = potentials(torch, structure, size, generator)
        other_scores = potentials(torch, structure, size, generator) if args.op in ("kl", "cross_entropy") else None
        warmup, reps = (0, args.slow_reps) if slow else (1, args.reps)
        try:
            ms = time_case(torch, torch_struct, structure, scores, other_scores, args.op, args.k, warmup, reps, clock)
        except Exception as error:  # torch-struct cannot run this case here: say why, time nothing
            reason = f"{type(error).__name__}: {error}"
            print(f"| {structure} | {size} | not run: {reason} |", flush=True)
            rows.append({"structure": structure, "size": list(size), "ms": None, "error": reason})
            continue
        print(f"| {structure} | {size} | {ms:.3f} |", flush=True)
        rows.append({"structure": structure, "size": list(size), "ms": ms})
    if args.semimarkov_check:
        semimarkov_check(torch, torch_struct, args.semimarkov_check, torch.Generator().manual_seed(args.seed + 1))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "clock": args.clock, "rows": rows}, out,
                      indent=1)
            out.write("\n")


if __name__ == "__main__":
    main()
