// predictNoise: one noise prediction ε(latents, t) of the whole clip, the single place where everything that wraps
// the UNet call lives — classifier-free guidance, per-frame text (prompt travel), motion strength (and FreeNoise's
// temporal windows) passed to the motion modules, and, for long clips, UNet-level context windows. generate() (and
// FreeInit's iterations) call only this.
//
//   latents (1, C, F, h, w) scaled model input  →  NHWC frames [b*F, h, w, C], b = 2 with CFG ([uncond; cond])
//   ε = UNet(x, t, text)                           text: [b, tokens, D] (one per half) or [b*F, tokens, D] (per frame)
//   ε = ε_u + g (ε_c − ε_u)                        with CFG (g > 1)
//
// With UNet-level context windows (spec context.method 'uniform', src/pipeline/context-windows.ts) each UNet call
// sees only the frames of one window, so GPU memory is bounded by one window whatever the clip length; the
// predictions (both CFG halves) are blended per frame with the windows' fuse weights, then CFG is applied:
//   ε_half[f] = Σ_w fuse_w[i]·UNet(x[win_w], t, text[win_w])_half[i]  /  Σ_w fuse_w[i]      (win_w[i] = f)
// FreeNoise (context.method 'freenoise') and motion strength act inside the UNet call: `Conditioning.motion`
// (docs/pipeline.md "Long animations").
import type { Engine } from '../gpu/engine';
import type { ArenaPlan } from '../gpu/pool';
import type { Tensor } from '../gpu/tensor';
import type { Semantics } from '../models/config';
import type { MotionForwardOptions } from '../models/forward-context';
import { classifierFreeGuidance } from '../schedulers';
import { GenerateRequestError } from './errors';
import type { PipelineModels } from './generate';
import { fuseWeights, uniformWindows } from './context-windows';
import { framesNhwcToVideo, videoToFramesNhwc } from './layout';
import type { UniformContext } from './spec';

/** Video latents in diffusers' layout (1, channels, frames, height, width), row-major. */
export interface Latents {
  data: Float32Array;
  channels: number;
  frames: number;
  height: number;
  width: number;
}

/**
 * Text embeddings of one generation on the CPU, uploaded once on first use. Rows: [negative; positive] halves with
 * CFG (`halves` 2), [positive] without; each half holds one row (the whole clip's text) or one row per frame
 * (prompt travel), each row [tokens, dim].
 */
export class TextConditioning {
  private uploaded: Tensor | null = null;

  constructor(
    readonly engine: Engine,
    readonly data: Float32Array,
    readonly halves: 1 | 2,
    readonly rowsPerHalf: number,
    readonly tokens: number,
    readonly dim: number,
  ) {
    if (data.length !== halves * rowsPerHalf * tokens * dim) {
      throw new GenerateRequestError(`text embeddings have ${data.length} values, expected ${halves}×${rowsPerHalf}×${tokens}×${dim}`);
    }
  }

  get perFrame(): boolean {
    return this.rowsPerHalf > 1;
  }

  /**
   * The conditioning of the frames `frames` of the clip (a context window): itself when the text is one per half;
   * otherwise a new TextConditioning (the caller releases it) holding those frames' rows of each half.
   */
  forFrames(frames: readonly number[]): TextConditioning {
    if (!this.perFrame) return this;
    const row = this.tokens * this.dim;
    const n = frames.length;
    const data = new Float32Array(this.halves * n * row);
    for (let hf = 0; hf < this.halves; hf++) {
      frames.forEach((f, i) => data.set(this.data.subarray((hf * this.rowsPerHalf + f) * row, (hf * this.rowsPerHalf + f + 1) * row), (hf * n + i) * row));
    }
    return new TextConditioning(this.engine, data, this.halves, n, this.tokens, this.dim);
  }

  /** The embeddings as the UNet takes them: [halves, tokens, dim] or [halves·F, tokens, dim] (row half·F + f). */
  tensor(): Tensor {
    this.uploaded ??= this.engine.upload(this.data, [this.halves * this.rowsPerHalf, this.tokens, this.dim]);
    return this.uploaded;
  }

  release(): void {
    this.uploaded?.release();
    this.uploaded = null;
  }
}

/** Everything a noise prediction depends on besides the latents and the timestep. */
export interface Conditioning {
  text: TextConditioning;
  /** CFG scale; the text must have 2 halves exactly when it is applied (usesCfg). */
  guidance: number;
  /** Motion-module GroupNorm semantics; default: the UNet's. */
  semantics?: Semantics;
  /** Largest tensor one UNet layer may make (the planner's chunk budget); default the binding limit. */
  maxTensorBytes?: number;
  /** The memory planner's arena for one UNet call's activations (src/plan/arena.ts); null: the buffer pool. */
  arena?: ArenaPlan | null;
  /**
   * What the motion modules do in every UNet call: FreeNoise's windowed temporal attention (pipeline/freenoise.ts),
   * motion strength s (x + s·(module(x) − x)), a debug probe. Absent: plain modules at strength 1.
   */
  motion?: MotionForwardOptions;
  /** UNet-level sliding context windows; null/absent: every UNet call sees all frames. */
  windows?: UniformContext | null;
}

/** Where in the run this prediction is (the window schedule shifts every step) and who watches it. */
export interface PredictProgress {
  /** Sampling step index (0-based). */
  step: number;
  /** Called after each context window's UNet call: window w (1-based) of W. */
  onWindow?(window: number, windows: number): void;
}

export interface NoisePrediction {
  /** After CFG (= the raw prediction without CFG), (1, C, F, h, w). */
  noisePred: Float32Array;
  /** The two CFG halves, when CFG ran. */
  uncond?: Float32Array;
  cond?: Float32Array;
}

/** ε(latents, t) for every frame of the clip. */
export async function predictNoise(m: PipelineModels, latents: Latents, t: number, c: Conditioning, at: PredictProgress = { step: 0 }): Promise<NoisePrediction> {
  const { frames: F } = latents;
  if (c.text.perFrame && c.text.rowsPerHalf !== F) throw new GenerateRequestError(`per-frame text has ${c.text.rowsPerHalf} rows per half for ${F} frames`);
  const windows = c.windows ? uniformWindows(F, c.windows, at.step) : null;
  let halves: Float32Array[];
  if (!windows || (windows.length === 1 && windows[0].every((f, i) => f === i) && windows[0].length === F)) {
    halves = await unetHalves(m, latents, t, c.text, c);
    if (windows) at.onWindow?.(1, 1);
  } else {
    halves = await blendWindows(m, latents, t, c, windows, at);
  }
  if (halves.length === 1) return { noisePred: halves[0] };
  const [uncond, cond] = halves;
  return { noisePred: classifierFreeGuidance(uncond, cond, c.guidance), uncond, cond };
}

/** Weighted per-frame mean of the windows' predictions, each CFG half apart (the file comment's formula). */
async function blendWindows(m: PipelineModels, latents: Latents, t: number, c: Conditioning, windows: number[][], at: PredictProgress): Promise<Float32Array[]> {
  const { channels: C, frames: F, height: h, width: w } = latents;
  const plane = h * w;
  const acc = Array.from({ length: c.text.halves }, () => new Float64Array(C * F * plane));
  const norm = new Float64Array(F);
  for (const [wi, win] of windows.entries()) {
    const L = win.length;
    const sub = new Float32Array(C * L * plane);
    for (let ch = 0; ch < C; ch++) {
      win.forEach((f, i) => sub.set(latents.data.subarray((ch * F + f) * plane, (ch * F + f + 1) * plane), (ch * L + i) * plane));
    }
    const text = c.text.forFrames(win);
    let out: Float32Array[];
    try {
      out = await unetHalves(m, { data: sub, channels: C, frames: L, height: h, width: w }, t, text, c);
    } finally {
      if (text !== c.text) text.release();
    }
    const weights = fuseWeights(L, c.windows!.fuse);
    win.forEach((f, i) => { norm[f] += weights[i]; });
    for (const [hf, o] of out.entries()) {
      const a = acc[hf];
      for (let ch = 0; ch < C; ch++) {
        win.forEach((f, i) => {
          const src = (ch * L + i) * plane, dst = (ch * F + f) * plane, wt = weights[i];
          for (let p = 0; p < plane; p++) a[dst + p] += wt * o[src + p];
        });
      }
    }
    at.onWindow?.(wi + 1, windows.length);
  }
  return acc.map((a) => {
    const out = new Float32Array(a.length);
    for (let ch = 0; ch < C; ch++) for (let f = 0; f < F; f++) {
      const base = (ch * F + f) * plane;
      if (!(norm[f] > 0)) throw new Error(`context windows left frame ${f} uncovered`);
      for (let p = 0; p < plane; p++) out[base + p] = a[base + p] / norm[f];
    }
    return out;
  });
}

/** One UNet call on all frames of `latents`: the raw prediction of each CFG half, (1, C, F, h, w) each. */
async function unetHalves(m: PipelineModels, latents: Latents, t: number, text: TextConditioning, c: Pick<Conditioning, 'semantics' | 'motion' | 'maxTensorBytes' | 'arena'>): Promise<Float32Array[]> {
  const e = m.engine;
  const { channels: C, frames: F, height: h, width: w } = latents;
  const batch = text.halves;
  const framesIn = videoToFramesNhwc(latents.data, 1, C, F, h, w);
  const x = e.upload(batch === 2 ? concat(framesIn, framesIn) : framesIn, [batch * F, h, w, C]);
  let out: Float32Array;
  try {
    // The UNet's activations live in the planner's arena when the run has its plan (every window's call alike).
    const textTensor = text.tensor();
    e.pool.beginScope(c.arena ?? null);
    let eps: Tensor;
    try {
      eps = m.unet.forward(x, new Array(batch).fill(t), textTensor, F, { semantics: c.semantics, motion: c.motion, maxTensorBytes: c.maxTensorBytes });
    } finally {
      e.pool.endScope();
    }
    try {
      out = await e.read(eps);
    } finally {
      eps.release();
    }
  } finally {
    x.release();
  }
  const half = F * h * w * C;
  return Array.from({ length: batch }, (_, i) => framesNhwcToVideo(out.subarray(i * half, (i + 1) * half), 1, C, F, h, w));
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
