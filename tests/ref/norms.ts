// Float64 CPU references for the normalisation kernels (plain loops, two-pass statistics).
import { activateCpu } from '../../src/ops/activation';

/**
 * torch.nn.GroupNorm applied per statistics domain on channels-last x [N, S, C] (flattened; S = positions per
 * sample). Domain b = samples b*F .. b*F+F-1. Biased variance, as PyTorch.
 */
export function groupNormRef(
  x: ArrayLike<number>, N: number, C: number, gamma: ArrayLike<number>, beta: ArrayLike<number>,
  groups: number, eps: number, framesPerGroup = 1, act: 'none' | 'silu' = 'none',
): Float64Array {
  const S = x.length / (N * C), cg = C / groups, out = new Float64Array(x.length);
  const rows = S * framesPerGroup;
  for (let b = 0; b < N / framesPerGroup; b++) {
    for (let g = 0; g < groups; g++) {
      const idx = (r: number, c: number) => (b * rows + r) * C + g * cg + c;
      let sum = 0;
      for (let r = 0; r < rows; r++) for (let c = 0; c < cg; c++) sum += x[idx(r, c)];
      const mean = sum / (rows * cg);
      let ss = 0;
      for (let r = 0; r < rows; r++) for (let c = 0; c < cg; c++) ss += (x[idx(r, c)] - mean) ** 2;
      const rstd = 1 / Math.sqrt(ss / (rows * cg) + eps);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cg; c++) {
          const ch = g * cg + c;
          out[idx(r, c)] = activateCpu((x[idx(r, c)] - mean) * rstd * gamma[ch] + beta[ch], act);
        }
      }
    }
  }
  return out;
}

/** torch.nn.LayerNorm over the last dim C of x [rows, C] (biased variance). */
export function layerNormRef(x: ArrayLike<number>, C: number, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / C; r++) {
    let sum = 0;
    for (let c = 0; c < C; c++) sum += x[r * C + c];
    const mean = sum / C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += (x[r * C + c] - mean) ** 2;
    const rstd = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) out[r * C + c] = (x[r * C + c] - mean) * rstd * gamma[c] + beta[c];
  }
  return out;
}
