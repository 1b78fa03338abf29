// Float64 CPU references for the attention kernels. Plain loops over the definitions, no tiling.

export interface SliceRef { stride: number; offset: number }

/**
 * out[b, i, h*D + d] = Σ_j softmax_j(scale · Σ_e q[b,i,h,e]·k[b,j,h,e]) · v[b,j,h,d],
 * with X[b, n, h, e] = X[(b*N + n)*stride + offset + h*D + e]. Returns dense [B, Nq, H*D].
 */
export function attentionRef(
  q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>,
  dims: { b: number; nq: number; nk: number; heads: number; d: number; scale?: number },
  slices: { q?: SliceRef; k?: SliceRef; v?: SliceRef } = {},
): Float64Array {
  const { b: B, nq, nk, heads, d: D } = dims;
  const C = heads * D;
  const scale = dims.scale ?? 1 / Math.sqrt(D);
  const qs = slices.q ?? { stride: C, offset: 0 };
  const ks = slices.k ?? { stride: C, offset: 0 };
  const vs = slices.v ?? { stride: C, offset: 0 };
  const out = new Float64Array(B * nq * C);
  const s = new Float64Array(nk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < nq; i++) {
        const qb = (b * nq + i) * qs.stride + qs.offset + h * D;
        let m = -Infinity;
        for (let j = 0; j < nk; j++) {
          const kb = (b * nk + j) * ks.stride + ks.offset + h * D;
          let acc = 0;
          for (let e = 0; e < D; e++) acc += q[qb + e] * k[kb + e];
          s[j] = acc * scale;
          m = Math.max(m, s[j]);
        }
        let l = 0;
        for (let j = 0; j < nk; j++) { s[j] = Math.exp(s[j] - m); l += s[j]; }
        const ob = (b * nq + i) * C + h * D;
        for (let e = 0; e < D; e++) {
          let acc = 0;
          for (let j = 0; j < nk; j++) acc += s[j] * v[(b * nk + j) * vs.stride + vs.offset + h * D + e];
          out[ob + e] = acc / l;
        }
      }
    }
  }
  return out;
}

/**
 * Temporal attention reference: qkv [B*F, P, 3C] (row (b*F+f)*P + p = [q | k | v]) → out [B*F, P, C],
 * an independent attention over the F frames for each (b, p), written with an explicit gather of the
 * per-position sequence (the (b·f, p) → (b·p, f) transpose) so it shares no indexing with the kernel.
 */
export function temporalAttentionRef(
  qkv: ArrayLike<number>, dims: { b: number; frames: number; positions: number; heads: number; c: number; scale?: number },
): Float64Array {
  const { b: B, frames: F, positions: P, heads, c: C } = dims;
  const seqQ = new Float64Array(F * C), seqK = new Float64Array(F * C), seqV = new Float64Array(F * C);
  const out = new Float64Array(B * F * P * C);
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < P; p++) {
      for (let f = 0; f < F; f++) {
        const row = ((b * F + f) * P + p) * 3 * C;
        for (let c = 0; c < C; c++) {
          seqQ[f * C + c] = qkv[row + c];
          seqK[f * C + c] = qkv[row + C + c];
          seqV[f * C + c] = qkv[row + 2 * C + c];
        }
      }
      const o = attentionRef(seqQ, seqK, seqV, { b: 1, nq: F, nk: F, heads, d: C / heads, scale: dims.scale });
      for (let f = 0; f < F; f++) for (let c = 0; c < C; c++) out[((b * F + f) * P + p) * C + c] = o[f * C + c];
    }
  }
  return out;
}
