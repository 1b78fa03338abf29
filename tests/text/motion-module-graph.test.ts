// The whole-motion-module ONNX graph (src/onnx/motion-module-graph.ts) on onnxruntime-web's wasm EP against our
// MotionModule (src/models/motion-module.ts) on an f32 engine, same random weights: two independent
// implementations of the block (ONNX ops vs our fused WGSL kernels) that must agree.
import { describe, expect, it } from 'vitest';
import { hostF32, memoryWeightMap, type WeightMap } from '../../src/weights/weight-map';
import { MotionModule } from '../../src/models/motion-module';
import { buildMotionModuleGraph, motionModuleWeightShapes } from '../../src/onnx/motion-module-graph';
import { createOrtSession, ort } from '../../src/onnx/session';
import { testEngine } from '../gpu';
import { maxAbsDiff, randn } from '../random';

/** Random canonical weights: Linear weights ~ N(0, 1/in) (O(1) activations), norm gammas 1 ± 0.2, biases ± 0.2. */
function randomWeights(C: number, blocks: number, seed: number): WeightMap & { values: Map<string, Float32Array> } {
  const shapes = motionModuleWeightShapes(C, blocks);
  const values = new Map<string, Float32Array>();
  let s = seed;
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const r = randn(n, s++, shape.length === 2 ? 1 / Math.sqrt(shape[1]) : 0.2);
    if (/norm\d?\.weight$/.test(name)) for (let i = 0; i < n; i++) r[i] += 1;
    values.set(name, r);
  }
  return { values, ...memoryWeightMap(new Map([...values].map(([k, v]) => [k, hostF32(v, shapes.get(k)!)]))) };
}

// Not multiples of anything: 2×3 positions, 8 frames, C = 64 in 8 groups (8 channels each) and 8 heads (D = 8).
const B = 2, F = 8, H = 2, W = 3, P = H * W, C = 64, HEADS = 8, GROUPS = 8, BLOCKS = 2;

describe('motion module ONNX graph', () => {
  for (const framesPerGroup of [1, F]) {
    it(`matches MotionModule (f32 engine) on the wasm EP, GroupNorm over ${framesPerGroup} frame(s)`, async () => {
      const w = randomWeights(C, BLOCKS, 100);
      const xData = randn(B * F * P * C, 7);
      const bytes = await buildMotionModuleGraph(w, { batch: B, frames: F, positions: P, channels: C, heads: HEADS, groups: GROUPS, framesPerGroup });
      const { session, ep } = await createOrtSession(bytes, ['wasm']);
      expect(ep).toBe('wasm');
      let theirs: Float32Array;
      try {
        const out = await session.run({ x: new ort.Tensor('float32', xData, [B * F, P, C]) });
        expect(out.y.dims).toEqual([B * F, P, C]);
        theirs = out.y.data as Float32Array;
      } finally {
        await session.release();
      }
      const e = await testEngine('f32');
      const mm = await MotionModule.load(e, w, { heads: HEADS, groups: GROUPS });
      const x = e.upload(xData, [B * F, H, W, C]);
      const y = mm.forward(e, x, F, framesPerGroup);
      const ours = await e.read(y);
      for (const t of [x, y]) t.release();
      mm.release();
      const { maxAbs, refMax } = maxAbsDiff(ours, theirs);
      console.log(`framesPerGroup ${framesPerGroup}: max |ours − ORT| ${maxAbs.toExponential(2)}, max |y| ${refMax.toFixed(2)}`);
      // Both sides are float32 with different summation orders through 2 blocks (6 GEMMs of K ≤ 256 each, two
      // norms, softmax): float32 rounding is ~1e-6 relative per op, so 1e-4·max|y| (max |y| ≈ 9.5 here; measured agreement ~5e-6) is a wide
      // margin for that and still 100× below what a wrong index, head split, PE row or GEGLU half would give.
      expect(refMax).toBeGreaterThan(1);
      expect(maxAbs).toBeLessThan(1e-4 * refMax);
    });
  }

  it('rejects missing or misshapen weights and bad shapes with specific messages', async () => {
    const w = randomWeights(C, 1, 200);
    const shape = { batch: B, frames: F, positions: P, channels: C, heads: HEADS, groups: GROUPS };
    const missing: WeightMap = { ...w, has: (k) => k !== 'transformer_blocks.0.attn2.to_k.weight' && w.has(k) };
    await expect(buildMotionModuleGraph(missing, shape)).rejects.toThrow('missing weight transformer_blocks.0.attn2.to_k.weight');
    const wrong: WeightMap = { ...w, shape: (k) => (k === 'transformer_blocks.0.ff.net.2.weight' ? [C, 8 * C] : w.shape(k)) };
    await expect(buildMotionModuleGraph(wrong, shape)).rejects.toThrow(`transformer_blocks.0.ff.net.2.weight has shape [${C}, ${8 * C}], expected [${C}, ${4 * C}]`);
    await expect(buildMotionModuleGraph(w, { ...shape, heads: 6 })).rejects.toThrow('64 channels do not split into 6 heads');
    await expect(buildMotionModuleGraph(w, { ...shape, framesPerGroup: 3 })).rejects.toThrow('framesPerGroup must be 1 or 8');
  });
});
