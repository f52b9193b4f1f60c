/** A small seeded generator for the demo's data and initial weights (reproducible across runs and machines). */

/** Uniform numbers in [0, 1) from a 32-bit seed (mulberry32). */
export function uniformSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws of a seeded generator: uniform, standard normal (Box–Muller), integers. */
export class Random {
  private readonly uniform: () => number;

  constructor(seed: number) {
    this.uniform = uniformSource(seed);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uniform();
  }

  /** Standard normal. */
  normal(): number {
    const u = 1 - this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }

  /** Integer in [low, high]. */
  integer(low: number, high: number): number {
    return low + Math.floor(this.uniform() * (high - low + 1));
  }

  /** `size` normals times `scale`. */
  normals(size: number, scale = 1): Float64Array {
    return Float64Array.from({ length: size }, () => scale * this.normal());
  }
}
