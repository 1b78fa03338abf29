// The ONNX graph builder: node/attribute/initializer encoding checked by running small graphs on
// onnxruntime-web's wasm EP against plain TypeScript float64 references.
import { describe, expect, it } from 'vitest';
import { OnnxGraphBuilder } from '../../src/onnx/graph-builder';
import { createOrtSession, ort } from '../../src/onnx/session';
import { buildTemporalAttentionCoreGraph, buildTemporalAttentionGraph } from '../../src/onnx/temporal-attention-graph';
import { maxAbsDiff, randn } from '../random';

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const { session, ep } = await createOrtSession(bytes, ['wasm']);
  expect(ep).toBe('wasm');
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

describe('OnnxGraphBuilder', () => {
  it('encodes int, ints and float attributes, int64/float initializers and multi-output nodes', async () => {
    // x [2,3,5] → Transpose(perm) → LayerNorm(eps) over the last axis → Split into [2,3] along it.
    const g = new OnnxGraphBuilder('t');
    const x = g.input('x', 'float32', [2, 3, 5]);
    const t = g.node('Transpose', [x], { perm: [0, 2, 1] }); // [2,5,3]
    const scale = g.float32([1, 2, 3]), bias = g.float32([0.5, -1, 0]);
    const ln = g.node('LayerNormalization', [t, scale, bias], { axis: -1, epsilon: { float: 0.25 } });
    const [a, b] = g.nodeN('Split', [ln, g.int64([2, 1])], 2, { axis: 2 });
    g.output(a, 'a');
    g.output(b, 'b');
    const xs = randn(30, 1);
    const res = await run(g.toBytes(), { x: new ort.Tensor('float32', xs, [2, 3, 5]) });
    // Reference: LN over the 3 transposed entries (i, :, j) with eps 0.25 (a large eps the test can see).
    const refA: number[] = [], refB: number[] = [];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 5; j++) {
      const v = [0, 1, 2].map((c) => xs[i * 15 + c * 5 + j]);
      const m = v.reduce((s, z) => s + z, 0) / 3;
      const va = v.reduce((s, z) => s + (z - m) ** 2, 0) / 3;
      const y = v.map((z, c) => ((z - m) / Math.sqrt(va + 0.25)) * [1, 2, 3][c] + [0.5, -1, 0][c]);
      refA.push(y[0], y[1]);
      refB.push(y[2]);
    }
    expect(res.a.dims).toEqual([2, 5, 2]);
    expect(res.b.dims).toEqual([2, 5, 1]);
    // f32 LayerNorm of O(1) data: 1e-5 (an indexing or epsilon mistake is O(0.1)).
    expect(maxAbsDiff(res.a.data as Float32Array, refA).maxAbs).toBeLessThan(1e-5);
    expect(maxAbsDiff(res.b.data as Float32Array, refB).maxAbs).toBeLessThan(1e-5);
  });

  it('reports misuse clearly', () => {
    const g = new OnnxGraphBuilder('bad');
    const x = g.input('x', 'float32', [2]);
    expect(() => g.input('x', 'float32', [2])).toThrow(/'x' is already used/);
    expect(() => g.node('Add', [x, 'nope'])).toThrow(/Add input 'nope' does not exist/);
    expect(() => g.node('LeakyRelu', [x], { alpha: 0.1 })).toThrow(/tag floats as \{ float: x \}/);
    expect(() => g.initializer(new Float32Array(3), [2, 2])).toThrow(/hold 4 elements but the data has 3/);
    expect(() => g.toBytes()).toThrow(/no outputs declared/);
  });
});

/** Float64 reference of the temporal attention (see src/onnx/temporal-attention-graph.ts). */
function temporalAttentionRef(x: Float32Array, s: { batch: number; frames: number; positions: number; channels: number; heads: number },
  w: { wq: Float32Array; wk: Float32Array; wv: Float32Array; wo: Float32Array; bo: Float32Array }): Float64Array {
  const C = s.channels, N = s.batch * s.frames * s.positions;
  const mm = (m: Float32Array) => {
    const o = new Float64Array(N * C);
    for (let r = 0; r < N; r++) for (let j = 0; j < C; j++) {
      let acc = 0;
      for (let i = 0; i < C; i++) acc += x[r * C + i] * m[i * C + j];
      o[r * C + j] = acc;
    }
    return o;
  };
  const q = mm(w.wq), k = mm(w.wk), v = mm(w.wv);
  return project(attendRef(q, k, v, s), N, C, w);
}

function attendRef(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, s: { batch: number; frames: number; positions: number; channels: number; heads: number }): Float64Array {
  const { batch: B, frames: F, positions: P, channels: C, heads: H } = s;
  const D = C / H, N = B * F * P;
  const ctx = new Float64Array(N * C);
  const row = (b: number, f: number, p: number) => (b * F + f) * P + p;
  for (let b = 0; b < B; b++) for (let p = 0; p < P; p++) for (let h = 0; h < H; h++) for (let f = 0; f < F; f++) {
    const sc = new Float64Array(F);
    for (let g = 0; g < F; g++) {
      let acc = 0;
      for (let d = 0; d < D; d++) acc += q[row(b, f, p) * C + h * D + d] * k[row(b, g, p) * C + h * D + d];
      sc[g] = acc / Math.sqrt(D);
    }
    const mx = Math.max(...sc);
    let sum = 0;
    for (let g = 0; g < F; g++) { sc[g] = Math.exp(sc[g] - mx); sum += sc[g]; }
    for (let d = 0; d < D; d++) {
      let acc = 0;
      for (let g = 0; g < F; g++) acc += (sc[g] / sum) * v[row(b, g, p) * C + h * D + d];
      ctx[row(b, f, p) * C + h * D + d] = acc;
    }
  }
  return ctx;
}

function project(ctx: Float64Array, N: number, C: number, w: { wo: Float32Array; bo: Float32Array }): Float64Array {
  const out = new Float64Array(N * C);
  for (let r = 0; r < N; r++) for (let j = 0; j < C; j++) {
    let acc = w.bo[j];
    for (let i = 0; i < C; i++) acc += ctx[r * C + i] * w.wo[i * C + j];
    out[r * C + j] = acc;
  }
  return out;
}

describe('temporal attention ONNX graph (benchmark comparison graph)', () => {
  it('matches a float64 reference (B=2, F=5, P=3, C=12, 3 heads: no dimension equal to another)', async () => {
    const s = { batch: 2, frames: 5, positions: 3, channels: 12, heads: 3 };
    const C = s.channels, sc = 1 / Math.sqrt(C);
    const w = { wq: randn(C * C, 2, sc), wk: randn(C * C, 3, sc), wv: randn(C * C, 4, sc), wo: randn(C * C, 5, sc), bo: randn(C, 6, 0.1) };
    const x = randn(s.batch * s.frames * s.positions * C, 7);
    const res = await run(buildTemporalAttentionGraph(s, w), { x: new ort.Tensor('float32', x, [s.batch * s.frames, s.positions, C]) });
    const d = maxAbsDiff(res.y.data as Float32Array, temporalAttentionRef(x, s, w));
    // f32 vs f64 on O(1) outputs with 12-term dot products: 1e-5 (a frame/position mix-up is O(1)).
    expect(d.maxAbs, `max |Δ| ${d.maxAbs}`).toBeLessThan(1e-5);
  });

  it('attention core from qkv [B·F, P, 3C] matches the float64 reference', async () => {
    const s = { batch: 2, frames: 5, positions: 3, channels: 12, heads: 3 };
    const C = s.channels, N = s.batch * s.frames * s.positions;
    const qkv = randn(N * 3 * C, 8);
    const pick = (o: number) => Float64Array.from({ length: N * C }, (_, i) => qkv[Math.floor(i / C) * 3 * C + o * C + (i % C)]);
    const res = await run(buildTemporalAttentionCoreGraph(s), { qkv: new ort.Tensor('float32', qkv, [s.batch * s.frames, s.positions, 3 * C]) });
    const d = maxAbsDiff(res.y.data as Float32Array, attendRef(pick(0), pick(1), pick(2), s));
    expect(d.maxAbs, `max |Δ| ${d.maxAbs}`).toBeLessThan(1e-5);
  });
});
