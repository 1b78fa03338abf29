// Each UNet level at full channel width, ours against onnxruntime-web. One level = one layer of the down block
// (src/models/unet-blocks.ts UNetLayer: ResNet block → spatial transformer where the block has attention → motion
// module), the block's last layer (its ResNet keeps the block's width). Key names, shapes and hyper-parameters come
// from the real checkpoints' manifests (SD1.5 UNet + AnimateDiff v2 motion adapter + CLIP's text length); the
// weights are random, made in-process. ORT runs the ONNX graph of the same layer on the same weights and inputs
// (src/onnx/unet-layer-graph.ts, checked against UNetLayer in tests/text/unet-layer-graph.test.ts).
// Weights are made in each case's untimed setup and dropped after ORT's case: one level's weights at a time.
import type { Engine } from '../../src/gpu/engine';
import { hyperParamsFromDiffusers, headsFor, inferUNetTopology } from '../../src/models/config';
import { chunkLimits } from '../../src/models/chunking';
import type { ForwardContext } from '../../src/models/forward-context';
import { Scope } from '../../src/models/layers';
import { UNetLayer } from '../../src/models/unet-blocks';
import { buildUNetLayerGraph } from '../../src/onnx/unet-layer-graph';
import { hostF32, memoryWeightMap, weightMap, type HostTensor, type WeightMap } from '../../src/weights/weight-map';
import type { CaseFactory } from '../harness';
import { noise } from '../noise';
import { ortCase } from '../ort-case';
import type { VersusCase } from '../suite';

/**
 * Sizes for a software adapter (both sides of all levels inside the browser page's timeout): level 0 at 8×8
 * latents (the real 64×64 of 512², divided by 8: a 64² image), each deeper level halved by the UNet's own downsamplers;
 * 2 frames, batch 1; one timed run of each side after its warm-up (on a software adapter a level takes 10–60 s per
 * run for ours and longer for ORT; the GEMMs of the deep levels have fewer rows than one tile, so their time is set by
 * the weights, not by the spatial size). `--full`: 64×64 latents, 16 frames, batch 2 (CFG), median of 3, for a real GPU.
 */
const SMALL = { latent: 8, frames: 2, batch: 1, reps: 1 };
const FULL = { latent: 64, frames: 16, batch: 2, reps: undefined };

const UNET = 'sd15_unet_diffusers.json';
const MOTION = 'motion_adapter_v1-5-2_diffusers.json';
const TEXT = 'clip_vit_l14_text_transformers.json';

/** Random values for one weight: Linear/conv ~ 1/√fan_in (O(1) activations), norm gammas 1 ± 0.1, biases ± 0.05. */
function randomTensor(name: string, shape: readonly number[], seed: number): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (shape.length >= 2) return hostF32(noise(n, seed, 1 / Math.sqrt(n / shape[0])), shape);
  const v = noise(n, seed, /norm\d?\.weight$/.test(name) ? 0.1 : 0.05);
  if (/norm\d?\.weight$/.test(name)) for (let i = 0; i < n; i++) v[i] += 1;
  return hostF32(v, shape);
}

export const cases: CaseFactory = async (e, { full, manifests }) => {
  const [unetM, motionM, textM] = await Promise.all([manifests(UNET), manifests(MOTION), manifests(TEXT)]);
  const shapes = new Map<string, readonly number[]>();
  for (const m of [unetM, motionM]) for (const [k, t] of Object.entries(m.tensors)) shapes.set(k, t.shape);
  const shapeMap: WeightMap = weightMap({
    has: (n) => shapes.has(n), shape: (n) => shapes.get(n)!, names: () => [...shapes.keys()],
    get: (n) => { throw new Error(`manifest weights have no values (${n})`); },
  });
  const topo = inferUNetTopology(shapeMap);
  const hyper = hyperParamsFromDiffusers(unetM.config ?? {}, motionM.config ?? {});
  const textTokens = textM.config?.max_position_embeddings;
  if (!Number.isInteger(textTokens)) throw new Error(`${TEXT}: config.max_position_embeddings missing`);
  const { latent, frames: F, batch: B, reps } = full ? FULL : SMALL;
  const Te = topo.timeEmbedDim, Dt = topo.crossAttentionDim;

  const out: VersusCase[] = [];
  let levelSide = latent;
  let prevChannels = topo.stemChannels;
  for (const [i, block] of topo.down.entries()) {
    const side = levelSide; // captured by this level's closures
    const l = block.layers - 1;
    const C = block.channels;
    const cin = l === 0 ? prevChannels : C;
    const P = side * side, N = B * F * P;
    const prefixes = { resnet: `down_blocks.${i}.resnets.${l}`, attention: `down_blocks.${i}.attentions.${l}`, motion: `down_blocks.${i}.motion_modules.${l}` };
    const keys = [...shapes.keys()].filter((k) => Object.entries(prefixes).some(([part, p]) =>
      k.startsWith(`${p}.`) && (part !== 'attention' || block.attention) && (part !== 'motion' || block.motionModules > 0)) && !k.endsWith('.pe'));
    const heads = headsFor(hyper, i);
    const resnetCfg = { groups: hyper.normGroups, eps: hyper.normEps, timeEmbedDim: Te };
    const motionCfg = { heads: hyper.motionHeads, groups: hyper.motionNormGroups };

    // GEMM/conv FLOPs from the weight shapes (text projections run on B·T rows, time_emb_proj on B), plus attention.
    let flops = 0;
    for (const k of keys) {
      const s = shapes.get(k)!;
      if (s.length < 2) continue;
      const rows = /attn2\.to_[kv]\.weight$/.test(k) && k.includes('.attentions.') ? B * textTokens : k.endsWith('time_emb_proj.weight') ? B : N;
      flops += 2 * rows * s.reduce((a, b) => a * b, 1);
    }
    if (block.attention) flops += 4 * B * F * P * P * C + 4 * N * textTokens * C; // self (QKᵀ, PV), cross
    if (block.motionModules > 0) flops += 2 * 4 * B * P * F * F * C; // two temporal attentions

    // Inputs (small) made now, weights (up to ~100M values at level 2) in setup, shared by the level's two cases.
    const xData = noise(N * cin, 100 + i), tembData = noise(B * Te, 200 + i), textData = noise(B * textTokens * Dt, 300 + i);
    let weights: WeightMap | null = null;
    const levelWeights = (): WeightMap => {
      weights ??= memoryWeightMap(new Map(keys.map((k, j) => [k, randomTensor(k, shapes.get(k)!, 1000 * (i + 1) + j)])));
      return weights;
    };
    const parts = ['ResNet', ...(block.attention ? ['Transformer2D'] : []), ...(block.motionModules > 0 ? ['motion module'] : [])].join(' + ');
    const dims = `B=${B} F=${F} ${side}×${side} latent, ${cin}→${C} ch: ${parts}` +
      `${block.attention ? `, ${heads} heads, text ${textTokens}×${Dt}` : ''}${full ? '' : ` (scaled down: 64×64 → ${latent}×${latent} latent at level 0, ${F} frames, batch ${B})`}`;
    const oursName = `UNet level ${i} (${C} ch, ours)`;

    let layer: UNetLayer | null = null;
    const tensors: { x?: ReturnType<Engine['upload']>; temb?: ReturnType<Engine['upload']>; text?: ReturnType<Engine['upload']> } = {};
    let ctx: ForwardContext | null = null;
    out.push({
      name: oursName,
      shape: `${dims} (engine ${e.dtype})`,
      flops,
      reps,
      setup: async () => {
        layer = await UNetLayer.load(e, new Scope(levelWeights()).pp('down_blocks').pp(i), l, cin, {
          resnet: resnetCfg,
          attention: block.attention ? { heads, groups: hyper.normGroups, crossAttentionDim: Dt } : null,
          motion: block.motionModules > 0 ? motionCfg : null,
        });
        tensors.x = e.upload(xData, [B * F, side, side, cin]);
        tensors.temb = e.upload(tembData, [B, Te]);
        tensors.text = e.upload(textData, [B, textTokens, Dt]);
        ctx = {
          e, batch: B, frames: F, tembAct: tensors.temb, text: tensors.text,
          resnetFramesPerGroup: 1, motionFramesPerGroup: 1, limits: chunkLimits(e), motion: {},
        };
      },
      run: () => { layer!.forward(ctx!, tensors.x!).release(); },
      dispose: () => {
        layer?.release();
        for (const t of Object.values(tensors)) t?.release();
        layer = null;
      },
    });

    out.push(ortCase({
      name: `ORT-web UNet level ${i} (${C} ch)`,
      versus: oursName,
      flops,
      shape: `${dims} (ONNX graph, f32)`,
      reps: () => reps,
      model: () => buildUNetLayerGraph(levelWeights(), { batch: B, frames: F, height: side, width: side }, {
        resnet: prefixes.resnet,
        attention: block.attention ? prefixes.attention : undefined,
        motion: block.motionModules > 0 ? prefixes.motion : undefined,
        resnetConfig: resnetCfg, attentionConfig: { heads, groups: hyper.normGroups }, motionConfig: motionCfg,
        timeEmbedDim: Te, crossAttentionDim: Dt, textTokens,
      }),
      inputs: () => [
        { name: 'x', data: xData, dims: [B * F, P, cin] },
        { name: 'temb', data: tembData, dims: [B, Te] },
        ...(block.attention ? [{ name: 'text', data: textData, dims: [B, textTokens, Dt] }] : []),
      ],
      onDispose: () => { weights = null; },
    }));

    prevChannels = C;
    if (block.resample) levelSide = Math.ceil(levelSide / 2);
  }
  return out;
};
