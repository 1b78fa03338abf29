/**
 * Builds the bytes of a WGSL uniform struct made of 4-byte scalars (u32 / i32 / f32), in
 * declaration order. The struct is padded to 16 bytes as WGSL's uniform layout requires.
 *
 *   struct P { n: u32, eps: f32 }   <->   new Params().u32(n).f32(eps)
 */
export class Params {
  private readonly words: number[] = [];
  private readonly kinds: ('u32' | 'i32' | 'f32')[] = [];

  u32(v: number): this { return this.push('u32', v); }
  i32(v: number): this { return this.push('i32', v); }
  f32(v: number): this { return this.push('f32', v); }

  bytes(): ArrayBuffer {
    const n = Math.max(4, Math.ceil(this.words.length / 4) * 4);
    const buf = new ArrayBuffer(n * 4);
    const dv = new DataView(buf);
    this.words.forEach((v, i) => {
      const k = this.kinds[i];
      if (k === 'f32') dv.setFloat32(i * 4, v, true);
      else if (k === 'i32') dv.setInt32(i * 4, v, true);
      else dv.setUint32(i * 4, v, true);
    });
    return buf;
  }

  private push(kind: 'u32' | 'i32' | 'f32', v: number): this {
    if (kind !== 'f32' && !Number.isInteger(v)) throw new TypeError(`${kind} param must be an integer, got ${v}`);
    this.words.push(v);
    this.kinds.push(kind);
    return this;
  }
}
