// The UI's pure helpers (app/src), tested in Node without a page: the status line and the request built from the form.
import { expect, test } from '@playwright/test';
import { parseHistoryEntry } from '../app/src/history';
import { parseStoredChoice, storableChoice } from '../app/src/model-choice';
import { clipWords, doneLine, plural, statusLine } from '../app/src/status-line';
import { WorkerClient, type WorkerLike } from '../app/src/worker-client';
import type { ToWorker } from '../src/worker/protocol';
import { type PlanState, planKey, planRefused, planView, withPlanChange } from '../app/src/plan-verdict';
import { INITIAL_FORM } from '../app/src/form';
import { toSelection } from '../app/src/model-choice';
import { INITIAL_MODELS } from '../app/src/hooks/useModelChoice';
import { DEFAULT_UNIFORM, type GenerationSpec, makeSpec } from '../src/pipeline/spec';
import { AUTO_PRECISION } from '../src/pipeline/precision';
import type { PlanVerdict } from '../src/worker/protocol';

test('status line: checking, ready, the last outcome, each phase of a run with a clock that moves every second', () => {
  const T = 1_000_000;
  const idle = { checked: true, notice: null, run: null, plannedSteps: 0, now: T };
  expect(statusLine({ ...idle, checked: false }).text).toBe('Checking WebGPU…');
  expect(statusLine(idle)).toEqual({ text: 'Ready.', fraction: null });
  expect(statusLine({ ...idle, notice: 'Done: 8 frames in 0:12.' }).text).toBe('Done: 8 frames in 0:12.');
  const run = { id: 1, phase: 'loading' as const, decoded: 0, frames: 8, startedAt: T - 3_000 };
  expect(statusLine({ ...idle, run }).text).toBe('Starting… · 0:03');
  const load = { phase: 'upload' as const, file: 'UNet + motion module', loaded: 1, total: 4 };
  expect(statusLine({ ...idle, run: { ...run, load } })).toEqual({ text: 'Loading models: uploading to the GPU UNet + motion module (1 of 4) · 0:03', fraction: 0.25 });
  expect(statusLine({ ...idle, run: { ...run, load }, now: T + 1_000 }).text).toMatch(/ · 0:04$/);
  // Text encoding is its own phase; step 1 is named once the worker says the prompt is encoded.
  const sampling = { ...run, phase: 'sampling' as const, samplingAt: T - 2_000 };
  expect(statusLine({ ...idle, run: sampling, plannedSteps: 3 })).toEqual({ text: 'Encoding the prompt · 0:02 elapsed', fraction: 0 });
  expect(statusLine({ ...idle, run: { ...sampling, encoded: true }, plannedSteps: 3, now: T + 5_000 }).text).toBe('Step 1 of 3 · 0:07 elapsed');
  expect(statusLine({ ...idle, run: { ...sampling, encoded: true, loadMs: 9_000 }, plannedSteps: 3 }).text).toBe('Step 1 of 3 (preparing GPU kernels on first use) · 0:02 elapsed');
  const step = { step: 1, steps: 3, iteration: 1, iterations: 1, iterationSteps: [3], elapsedMs: 61_000, etaMs: 122_000 };
  const stepped = { ...sampling, encoded: true, samplingAt: T - 61_000, step, stepAt: T };
  expect(statusLine({ ...idle, run: stepped })).toEqual({ text: 'Step 2 of 3 · 1:01 elapsed · about 2:02 left', fraction: 1 / 3 });
  // Between step messages elapsed counts up and the ETA down.
  expect(statusLine({ ...idle, run: stepped, now: T + 2_000 }).text).toBe('Step 2 of 3 · 1:03 elapsed · about 2:00 left');
  // FreeInit, fast sampling (1 then 3 steps): the iteration is named, the bar counts the steps of all iterations.
  const fi = { ...step, iterations: 2, iterationSteps: [1, 3], steps: 1, step: 1, etaMs: 183_000 };
  expect(statusLine({ ...idle, run: { ...stepped, step: fi } })).toEqual({ text: 'Iteration 2 of 2 · step 1 of 3 · 1:01 elapsed · about 3:03 left', fraction: 1 / 4 });
  const fi2 = { ...fi, iteration: 2, steps: 3, step: 2, etaMs: 30_000 };
  expect(statusLine({ ...idle, run: { ...stepped, step: fi2 } })).toEqual({ text: 'Iteration 2 of 2 · step 3 of 3 · 1:01 elapsed · about 0:30 left', fraction: 3 / 4 });
  expect(statusLine({ ...idle, run: { ...stepped, phase: 'decoding', decoded: 2 } })).toEqual({ text: 'Decoding frame 3 of 8 · 1:01 elapsed', fraction: 0.25 });
  // Context windows: the window running inside the step, its share in the bar.
  const win = { iteration: 1, step: 2, window: 3, windows: 4 };
  expect(statusLine({ ...idle, run: { ...stepped, window: win } })).toEqual({ text: 'Step 2 of 3 · window 4 of 4 · 1:01 elapsed · about 2:02 left', fraction: (1 + 3 / 4) / 3 });
  expect(statusLine({ ...idle, run: { ...run, phase: 'cancelling' } }).text).toBe('Cancelling…');
});

test('done line names the load and the generation; plurals', () => {
  expect(doneLine(8, 83_000, 43_000, 40_000)).toBe('Done: 8 frames in 1:23 (loading the models 0:40, generating 0:43).');
  expect(doneLine(1, 5_000, 5_000, undefined)).toBe('Done: 1 frame in 0:05 (models already loaded, generating 0:05).');
  expect([plural(1, 'step'), plural(0, 'step'), plural(25, 'step')]).toEqual(['1 step', '0 steps', '25 steps']);
});

test('history records: checked field by field, repaired where a neutral value is right, skipped otherwise', () => {
  const png = new Blob([new Uint8Array([137, 80, 78, 71])], { type: 'image/png' });
  const settings = { prompt: 'p', negativePrompt: 'n', seed: 1, frames: 8, width: 64, height: 64, steps: 2, guidance: 1, scheduler: 'ddim' };
  const good = { id: 'a', createdAt: 5, settings, models: 'm', width: 64, height: 64, fps: 10, elapsedMs: 3, frames: [png] };
  expect(parseHistoryEntry(good)).toMatchObject({ id: 'a', createdAt: 5, models: 'm', width: 64, height: 64, fps: 10, elapsedMs: 3, frames: [png] });
  expect(parseHistoryEntry(good)!.settings).toMatchObject({ seed: 1, frames: 8, width: 64, height: 64, steps: 2 }); // an older settings record, migrated by parseSpec
  for (const bad of [null, 'x', [], { ...good, id: 3 }, { ...good, settings: null }, { ...good, settings: { ...settings, prompt: undefined } },
    { ...good, settings: { ...settings, seed: -1 } }, { ...good, settings: { ...settings, steps: 1.5 } }, { ...good, settings: { ...settings, scheduler: 'pndm' } },
    { ...good, settings: { ...settings, guidance: NaN } }, { ...good, frames: [] }, { ...good, frames: ['x'] }, { ...good, frames: 'x' }]) {
    expect(parseHistoryEntry(bad), JSON.stringify(bad)).toBeNull();
  }
  const repaired = parseHistoryEntry({ id: 'b', settings, frames: [png], fps: 1e9, width: -1 });
  expect(repaired).toMatchObject({ id: 'b', createdAt: 0, models: 'unknown models', width: 64, height: 64, fps: 8, elapsedMs: 0, frames: [png] });
});

test('prompts are cut at a word, with an ellipsis', () => {
  expect(clipWords('a red panda walking through a snowy forest', 60)).toBe('a red panda walking through a snowy forest');
  expect(clipWords('a red panda walking through a snowy forest, soft light', 30)).toBe('a red panda walking through a…');
  expect(clipWords('x'.repeat(40), 10)).toBe('xxxxxxxxx…');
});

test('a remembered model choice is checked slot by slot; files, unknown presets and bad values fall back', () => {
  const fallback = { base: { mode: 'preset', presetId: 'sd15' }, motion: { mode: 'preset', presetId: 'v2' }, motionLora: { mode: 'none' }, motionLoraStrength: 0.8, sdLora: { mode: 'none' }, sdLoraStrength: 0.8 } as const;
  const tiny = { ...fallback, base: { mode: 'preset' as const, presetId: 'tiny' }, motion: { mode: 'preset' as const, presetId: 'tiny' } };
  expect(parseStoredChoice(JSON.parse(JSON.stringify(storableChoice(tiny))), fallback)).toEqual(tiny);
  const withFile = { ...fallback, base: { mode: 'file' as const, file: null }, motion: { mode: 'url' as const, url: 'https://huggingface.co/a/b/resolve/main/m.safetensors' } };
  expect(parseStoredChoice(JSON.parse(JSON.stringify(storableChoice(withFile))), fallback)).toEqual({ ...fallback, motion: withFile.motion });
  expect(parseStoredChoice({ v: 1, base: { mode: 'preset', presetId: 'nope' }, motion: 42, motionLora: { mode: 'none' }, motionLoraStrength: 1e9 }, fallback)).toEqual(fallback);
  expect(parseStoredChoice({ v: 1, base: { mode: 'none' } }, fallback)!.base).toEqual(fallback.base); // the base cannot be empty
  for (const bad of [null, 'x', 3, {}, { v: 2 }]) expect(parseStoredChoice(bad, fallback)).toBeNull();
});

test('every worker the client starts gets the page\'s init first, a restarted one too (it keeps the Hub origin)', () => {
  // Records what each started worker is sent; Node has no module Workers, and only the client's order is tested here.
  const started: ToWorker[][] = [];
  const spawn = (): WorkerLike => {
    const got: ToWorker[] = [];
    started.push(got);
    return { postMessage: (m) => got.push(m), terminate: () => undefined, onmessage: null, onerror: null };
  };
  const client = new WorkerClient(spawn);
  const init: ToWorker = { type: 'init', hub: 'http://127.0.0.1:9/' };
  client.send(init);
  client.send({ type: 'storage', op: 'report' });
  expect(started).toEqual([[init, { type: 'storage', op: 'report' }]]);
  // The UI ends a worker that did not confirm a cancel; the next message (here the storage refresh) starts another.
  client.terminate();
  client.send({ type: 'storage', op: 'report' });
  client.send({ type: 'cancel', id: 3 });
  expect(started[1]).toEqual([init, { type: 'storage', op: 'report' }, { type: 'cancel', id: 3 }]);
  expect(started).toHaveLength(2);
});

test('memory plan: the verdict in words, Generate blocked only by a refusal, the device-memory warning, the suggestion applied, what the plan depends on', () => {
  const limits = { maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 };
  const caps = { webgpu: true, deviceMemoryGiB: 8 };
  const fits: PlanState = { kind: 'verdict', verdict: { fits: true, precision: { activations: 'f16', weights: 'int8' }, peakBytes: 2.4 * 2 ** 30, limits } };
  expect(planView(fits, caps)).toEqual({ line: 'Planned 2.4 GB of GPU memory (f16 activations, int8 weights); this GPU allows 1.0 GB per buffer binding and 1.0 GB per buffer.', level: 'info' });
  expect(planRefused(fits)).toBe(false);
  const big: PlanState = { kind: 'verdict', verdict: { ...fits.verdict, peakBytes: 9 * 2 ** 30 } as PlanVerdict };
  expect(planView(big, caps)).toMatchObject({ level: 'warning', warning: expect.stringMatching(/^The plan needs 9\.0 GB, more than the 8 GB of memory this device reports/) });
  expect(planView(big, { webgpu: true })?.warning).toBeUndefined();
  const refused: PlanState = { kind: 'verdict', verdict: { fits: false, limits, reason: '512×512 with 16 frames cannot be split to fit this GPU: …', searching: true } };
  expect(planRefused(refused)).toBe(true);
  expect(planView(refused, caps)).toEqual({ line: 'This run cannot fit this GPU: 512×512 with 16 frames cannot be split to fit this GPU: ….', level: 'error', searching: true });
  const offered: PlanState = { kind: 'verdict', verdict: { ...(refused.verdict as PlanVerdict), searching: undefined, suggestion: { label: '384×384', width: 384, height: 384, peakBytes: 300 * 2 ** 20 } } };
  expect(planView(offered, caps)?.action).toBe('Use 384×384 instead (planned 300 MB of GPU memory)');
  expect(planView({ kind: 'checking' }, caps)?.line).toBe('Checking whether this run fits the GPU…');
  expect(planView({ kind: 'idle' }, caps)).toBeNull();

  const form = { ...INITIAL_FORM, spec: { ...INITIAL_FORM.spec, context: { ...DEFAULT_UNIFORM } } };
  const applied = withPlanChange(form, { label: 'x', width: 384, height: 256, frames: 12, contextLength: 8, precision: { activations: 'f16', weights: 'auto' }, peakBytes: 1 });
  expect([applied.spec.width, applied.spec.height, applied.spec.frames, applied.spec.context?.length, applied.precision]).toEqual([384, 256, 12, 8, { activations: 'f16', weights: 'auto' }]);
  expect(applied.promptText).toBe(form.promptText);

  const req = (spec: Partial<GenerationSpec>) => ({ selection: toSelection(INITIAL_MODELS), precision: AUTO_PRECISION, spec: makeSpec({ prompt: 'a', ...spec }), modelsLabel: '' });
  expect(planKey(req({ prompt: 'b', seed: 7 } as Partial<GenerationSpec>))).toBe(planKey(req({})));
  expect(planKey(req({ width: 256 }))).not.toBe(planKey(req({})));
  expect(planKey(req({ guidance: 1 }))).not.toBe(planKey(req({})));
});
