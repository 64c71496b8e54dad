/**
 * The generator's only source of randomness: sfc32 seeded from a cyrb128 hash of a
 * string, so the same seed gives the same stream on every machine and Node version
 * (no Math.random, no clock). Each concern of the generator takes its own named stream
 * (`new Random(`${seed}:warmup`)`), so tuning one concern leaves the others' output
 * unchanged.
 */

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** cyrb128: a fast 128-bit string hash, used only to spread a seed over sfc32's state. */
function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/**
 * A seeded pseudo-random stream (sfc32: 128-bit state, passes PractRand, ~1 ns a draw).
 *
 * @example
 * const rng = new Random('42:emails');
 * rng.int(1, 28); // same value on every run
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: string) {
    [this.a, this.b, this.c, this.d] = cyrb128(seed);
    // The first outputs of sfc32 still echo the seed hash; discard them.
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** A uniform integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A uniform float in [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** An exponentially distributed value with the given mean (waiting times). */
  exp(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** Number of extra successes before the first failure: 0 with probability 1 - p. */
  geometric(p: number, max: number): number {
    let n = 0;
    while (n < max && this.chance(p)) n++;
    return n;
  }

  /** A version-4-layout UUID built from this stream, so ids are reproducible from the seed. */
  uuid(): string {
    const w0 = this.uint32();
    const w1 = this.uint32();
    const w2 = this.uint32();
    const w3 = this.uint32();
    return (
      HEX[w0 >>> 24] + HEX[(w0 >>> 16) & 255] + HEX[(w0 >>> 8) & 255] + HEX[w0 & 255] + '-' +
      HEX[w1 >>> 24] + HEX[(w1 >>> 16) & 255] + '-' +
      HEX[((w1 >>> 8) & 15) | 64] + HEX[w1 & 255] + '-' +
      HEX[((w2 >>> 24) & 63) | 128] + HEX[(w2 >>> 16) & 255] + '-' +
      HEX[(w2 >>> 8) & 255] + HEX[w2 & 255] +
      HEX[w3 >>> 24] + HEX[(w3 >>> 16) & 255] + HEX[(w3 >>> 8) & 255] + HEX[w3 & 255]
    );
  }

  /** `count` lowercase hex digits, for message ids and similar opaque tokens. */
  hex(count: number): string {
    let s = '';
    while (s.length < count) s += HEX[this.uint32() & 255];
    return s.slice(0, count);
  }
}
