// One whole AnimateDiff motion module (GroupNorm, proj_in, one transformer block = two temporal attention
// sub-layers + GEGLU feed-forward, proj_out + residual) at the first down block's size: ours (MotionModule on
// the engine) against onnxruntime-web running the ONNX graph of the same block (src/onnx/motion-module-graph.ts)
// on the same random weights and input. The EP is WebGPU in a browser (`npm run bench -- --browser`), wasm in Node.
// ORT's session is created outside the timed run; one `session.run` is timed (wall clock: the engine's GPU
// timestamps do not see ORT's own device). On WebGPU the input lives on ORT's device and the output stays there.
import { MotionModule } from '../../src/models/motion-module';
import { hostF32, memoryWeightMap, type WeightMap } from '../../src/weights/weight-map';
import { buildMotionModuleGraph, motionModuleWeightShapes } from '../../src/onnx/motion-module-graph';
import { ortCase } from '../ort-case';
import { noise } from '../noise';
import type { CaseFactory } from '../harness';
import type { VersusCase } from '../suite';

const OURS = 'motion module block (ours)';

/** Canonical motion-module weights: Linear [out, in] ~ 1/√in (O(1) activations), norm gammas 1 ± 0.1, biases ± 0.1. */
function randomMotionModuleWeights(C: number, blocks: number): WeightMap {
  const shapes = motionModuleWeightShapes(C, blocks);
  const values = new Map<string, Float32Array>();
  let seed = 1000;
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = noise(n, seed++, shape.length === 2 ? 1 / Math.sqrt(shape[1]) : 0.1);
    if (/norm\d?\.weight$/.test(name)) for (let i = 0; i < n; i++) v[i] += 1;
    values.set(name, v);
  }
  return memoryWeightMap(new Map([...values].map(([k, v]) => [k, hostF32(v, shapes.get(k)!)])));
}

export const cases: CaseFactory = async (e) => {
  // The measuring size (as the attention cases): CFG batch 2, 16 frames, 16×16 latent positions, C = 320,
  // 8 heads, 32 groups, one transformer block (every released v1/v2/v3 module), official per-frame GroupNorm.
  const B = 2, F = 16, h = 16, w = 16, P = h * w, C = 320, heads = 8, groups = 32, blocks = 1;
  const N = B * F * P;
  const weights = randomMotionModuleWeights(C, blocks);
  const xData = noise(N * C, 77);
  const dims = `B=${B} F=${F} P=${h}×${w} C=${C} heads=${heads} groups=${groups}, 1 transformer block`;
  // GEMMs: proj_in, 2 × (Q, K, V, out), FF C→8C and 4C→C, proj_out = 22·C² MACs per token; attention QKᵀ and PV.
  const flops = 2 * 22 * C * C * N + 2 * blocks * 4 * B * P * F * F * C;

  const mm = await MotionModule.load(e, weights, { heads, groups });
  const x = e.upload(xData, [B * F, h, w, C]);
  const ours: VersusCase = {
    name: OURS,
    shape: `${dims} (engine ${e.dtype})`,
    flops,
    run: () => { mm.forward(e, x, F, 1).release(); },
    dispose: () => { x.release(); mm.release(); },
  };

  const model = await buildMotionModuleGraph(weights, { batch: B, frames: F, positions: P, channels: C, heads, groups });
  // On a software WebGPU adapter one ORT run of this block takes about a minute: 1 timed run after the warm-up.
  const theirs = ortCase({
    name: 'ORT-web motion module block', model, inputs: [{ name: 'x', data: xData, dims: [B * F, P, C] }], flops, versus: OURS,
    reps: (ep) => (ep === 'webgpu' ? 1 : 3),
    shape: `${dims} (ONNX graph, f32; one run on WebGPU, else median of 3, after a warm-up)`,
  });
  return [ours, theirs];
};
