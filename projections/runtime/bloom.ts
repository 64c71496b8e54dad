/**
 * A fixed-size Bloom filter of strings: "certainly absent" or "maybe present". The
 * projector keeps one per lane of the email ids its ledger holds, so an email's first
 * send (most events of a catch-up) needs no database lookup to know it is new, in memory
 * that does not grow with history (8 MiB: under 1% false positives up to ~5M emails).
 */
export class BloomFilter {
  private readonly bits: Uint32Array;
  private readonly size: number;

  constructor(bytes = 8 << 20, private readonly hashes = 5) {
    this.bits = new Uint32Array(bytes >>> 2);
    this.size = this.bits.length * 32;
  }

  add(key: string): void {
    const [h1, h2] = twoHashes(key);
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + i * h2) % this.size;
      this.bits[bit >>> 5] |= 1 << (bit & 31);
    }
  }

  mayContain(key: string): boolean {
    const [h1, h2] = twoHashes(key);
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + i * h2) % this.size;
      if ((this.bits[bit >>> 5] & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

/** Two independent 32-bit FNV-1a variants (Kirsch–Mitzenmacher double hashing). */
function twoHashes(key: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return [a >>> 0, (b | 1) >>> 0];
}
