// Prompt travel (src/pipeline/prompt-travel.ts) against diffusers v0.39.0's FreeNoise prompt interpolation as the
// oracle recorded it: keyframe completion, the per-frame segment/alpha table, and the per-frame embeddings from the
// recorded keyframe embeddings (prompt_travel_tiny: two keyframes; freenoise_tiny: one prompt).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTensorFile, toF32 } from '../src/conformance/tensor-file';
import { completeKeyframes, frameBlends, interpolateKeyframes, PromptTravelError, travelEmbeddings } from '../src/pipeline/prompt-travel';
import { maxAbsDiff, randn } from './random';

const VECTORS = path.resolve(__dirname, '../../shared/oracle/vectors');
const load = (set: string) => ({
  config: JSON.parse(readFileSync(path.join(VECTORS, set, 'vA/config.json'), 'utf8')),
  outputs: parseTensorFile(readFileSync(path.join(VECTORS, set, 'vA/outputs.safetensors')), `${set}/outputs`),
});
const travel = load('prompt_travel_tiny');
const single = load('freenoise_tiny');
const keyframesOf = (o: Record<string, string>) => Object.entries(o).map(([frame, prompt]) => ({ frame: Number(frame), prompt }));

describe('prompt travel keyframes', () => {
  it('completes keyframes as diffusers (sorted, frame F-1 gets the last prompt; negative "" likewise)', () => {
    const F = travel.config.num_frames;
    const want = travel.config.keyframes_after_completion;
    expect(completeKeyframes(keyframesOf(travel.config.prompt).reverse(), F)).toEqual(keyframesOf(want.prompt));
    expect(completeKeyframes([{ frame: 0, prompt: travel.config.negative_prompt ?? '' }], F)).toEqual(keyframesOf(want.negative_prompt));
    expect(completeKeyframes([{ frame: 0, prompt: 'a' }, { frame: 5, prompt: 'b' }], 6)).toEqual([{ frame: 0, prompt: 'a' }, { frame: 5, prompt: 'b' }]);
  });

  it('gives every frame the recorded segment and alpha', () => {
    const F = travel.config.num_frames;
    const table = (keys: { frame: number }[]) => frameBlends(keys.map((k) => k.frame), F).map((b, f) => ({ frame: f, segment: [keys[b.from].frame, keys[b.to].frame], alpha: b.alpha }));
    const want = travel.config.keyframes_after_completion;
    expect(table(keyframesOf(want.prompt))).toEqual(travel.config.interpolation.frame_table_prompt);
    expect(table(keyframesOf(want.negative_prompt))).toEqual(travel.config.interpolation.frame_table_negative_prompt);
  });

  it('rejects keyframes diffusers rejects, naming the problem', () => {
    expect(() => completeKeyframes([{ frame: 3, prompt: 'a' }], 8)).toThrow(/must be at frame 0/);
    expect(() => completeKeyframes([{ frame: 0, prompt: 'a' }, { frame: 8, prompt: 'b' }], 8)).toThrow(/keyframe 8 is past the last frame \(7\)/);
    expect(() => completeKeyframes([{ frame: 0, prompt: 'a' }, { frame: 0, prompt: 'b' }], 8)).toThrow(/frame 0 has two keyframes/);
    expect(() => completeKeyframes([{ frame: 0.5, prompt: 'a' }], 8)).toThrow(PromptTravelError);
    expect(() => completeKeyframes([], 8)).toThrow(/no prompt keyframes/);
  });
});

describe('per-frame embeddings vs the oracle', () => {
  it('prompt_travel_tiny: positive and negative frames from the recorded keyframe embeddings (float32 as torch)', () => {
    const F = travel.config.num_frames;
    const want = travel.config.keyframes_after_completion;
    for (const [keys, kf, frames] of [
      [keyframesOf(want.prompt), 'text.keyframe_prompt_embeds', 'text.prompt_embeds_frames'],
      [keyframesOf(want.negative_prompt), 'text.keyframe_negative_prompt_embeds', 'text.negative_prompt_embeds_frames'],
    ] as const) {
      const got = interpolateKeyframes(toF32(travel.outputs.get(kf)!), keys.map((k) => k.frame), F);
      const ref = travel.outputs.get(frames)!;
      const { maxAbs, refMax } = maxAbsDiff(got, ref.data);
      // Same float32 arithmetic as torch: equal up to an ulp of the largest value (4.3 → 4.8e-7).
      expect(maxAbs, `${frames}: max |err| ${maxAbs}`).toBeLessThanOrEqual(refMax * 2 ** -23);
    }
  });

  it('freenoise_tiny: one prompt gives (1 − a)·E + a·E per frame', async () => {
    const F = single.config.num_frames;
    const E = toF32(single.outputs.get('text.prompt_embeds')!);
    const got = await travelEmbeddings(async (prompts) => {
      expect(prompts).toEqual([single.config.prompt, single.config.prompt]);
      const out = new Float32Array(2 * E.length);
      out.set(E, 0);
      out.set(E, E.length);
      return out;
    }, [{ frame: 0, prompt: single.config.prompt }], F);
    const { maxAbs, refMax } = maxAbsDiff(got, single.outputs.get('text.prompt_embeds_frames')!.data);
    expect(maxAbs).toBeLessThanOrEqual(refMax * 2 ** -23);
  });

  it('a keyframe shared by two segments keeps its own embedding exactly; one frame uses its only keyframe', () => {
    const [T, D] = [3, 4];
    const E = randn(3 * T * D, 5);
    const out = interpolateKeyframes(E, [0, 4, 9], 10);
    expect(out.subarray(4 * T * D, 5 * T * D)).toEqual(E.subarray(T * D, 2 * T * D));
    expect(out.subarray(9 * T * D)).toEqual(E.subarray(2 * T * D));
    expect(interpolateKeyframes(E.subarray(0, T * D), [0], 1)).toEqual(E.subarray(0, T * D));
  });
});
