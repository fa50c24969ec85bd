/**
 * Seeded randomness, in one place: the mulberry32 generator (Tommy Ettinger's 32-bit PRNG) that the
 * sampler, the task generators and the test fixtures all draw from, and FNV-1a for deriving seeds
 * from keys. No global state: every stream is a value built from a seed.
 */

/** A stream of floats in [0, 1) (mulberry32): the same seed gives the same stream everywhere. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The sampler's stream for a user seed (src/model/sample.ts, src/rl/tree.ts): mulberry32 of the seed
 * xor the golden-ratio constant 0x9e3779b9, so small seeds (0, 1, 2…) start far apart in the state
 * space. Kept as it is so a seed reproduces the samples it always gave.
 */
export function seededRandom(seed: number): () => number {
  return mulberry32((seed >>> 0) ^ 0x9e3779b9);
}

/** FNV-1a, 32-bit, over the UTF-16 code units of `text`. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A seeded generator (mulberry32) with the helpers task generation uses: `next()` in [0, 1). */
export class Rng {
  private readonly draw: () => number;
  constructor(seed: number) {
    this.draw = mulberry32(seed);
  }
  /** derive a generator from a seed and a key, e.g. `Rng.derive(seed, "train/17")` */
  static derive(seed: number, key: string): Rng {
    return new Rng(fnv1a(`${seed >>> 0}/${key}`));
  }
  next(): number {
    return this.draw();
  }
  /** an integer in [lo, hi], both ends included */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  /** true with probability p */
  chance(p: number): boolean {
    return this.next() < p;
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}
