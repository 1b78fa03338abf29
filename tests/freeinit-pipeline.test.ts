// FreeInit inside generate() with the project's own seeded noise (the oracle comparison with replayed torch noise is
// the freeinit_tiny conformance set): reproducible from the seed, iterations = 1 is the plain run, the iteration
// shows in progress, each iteration starts from the re-initialised latents, and bad options are refused.
import { describe, expect, it } from 'vitest';
import { GenerateRequestError } from '../src/pipeline/errors';
import { diffuse, freeInitFilter, mixFrequencies } from '../src/pipeline/freeinit';
import { type FreeInitRecord, generate, type GenerateOptions, type PipelineModels, type StepInfo, type StepRecord } from '../src/pipeline/generate';
import { DEFAULT_FREEINIT, type GenerationSpec, makeSpec } from '../src/pipeline/spec';
import { freeInitNoise, initialNoise } from '../src/pipeline/rng';
import { createScheduler, defaultSchedulerFor } from '../src/schedulers';
import { testEngine } from './gpu';
import { oraclePipeline } from './oracle-pipeline';

const oracle = oraclePipeline('freeinit_tiny');
let models: Promise<PipelineModels> | null = null;
const tinyModels = () => (models ??= testEngine('f32').then((e) => oracle.loadModels(e)));

const ddim = defaultSchedulerFor('v2');
// 6 frames (not a power of two) at 64×64 (8×8 latents), DDIM, no CFG: small enough for a software adapter.
function request(extra: Partial<GenerationSpec>, opts: GenerateOptions = {}): [GenerationSpec, GenerateOptions] {
  const spec = { ...makeSpec({ prompt: '(replayed embeddings)', seed: 5, frames: 6, width: 64, height: 64, steps: 3, guidance: 1 }), ...extra };
  return [spec, {
    scheduler: { className: ddim.className, config: ddim.config },
    embeddings: oracle.embeddings({ negative: false }),
    decode: false, ...opts,
  }];
}
const fast2 = { ...DEFAULT_FREEINIT, iterations: 2, fastSampling: true };

async function run([spec, opts]: [GenerationSpec, GenerateOptions]) {
  const steps: StepInfo[] = [], records: StepRecord[] = [], reinit: FreeInitRecord[] = [];
  const res = await generate(await tinyModels(), spec, { onStep: (s) => steps.push(s), onStepRecord: (s) => records.push(s), onFreeInit: (s) => reinit.push(s) }, opts);
  return { res, steps, records, reinit };
}

describe('FreeInit in generate() (seeded, tiny oracle models)', () => {
  it('the same seed gives the same run; iteration k ≥ 1 starts from the re-initialised latents of the seed\'s FreeInit stream', async () => {
    const a = await run(request({ freeInit: fast2 }));
    const b = await run(request({ freeInit: fast2 }));
    expect([...b.res.latents]).toEqual([...a.res.latents]);
    // Fast sampling with 3 steps over 2 iterations: 1 step (t = 1, leading spacing) then 3.
    expect(a.res.iterationTimesteps).toEqual([[1], [667, 334, 1]]);
    expect(a.steps.map((s) => [s.iteration, s.iterations, s.step, s.steps])).toEqual([[1, 2, 1, 1], [2, 2, 1, 3], [2, 2, 2, 3], [2, 2, 3, 3]]);
    expect(a.steps.every((s) => s.iterationSteps.join() === '1,3')).toBe(true);
    expect(a.steps.at(-1)!.etaMs).toBe(0);
    // The re-initialisation, recomputed from its parts: iteration 0's final latents, the seed's initial noise,
    // the seed's FreeInit noise for iteration 1.
    expect(a.reinit.map((r) => r.iteration)).toEqual([1]);
    const [C, F, h, w] = [4, 6, 8, 8];
    const n = C * F * h * w;
    const ac = createScheduler(ddim.className, ddim.config, 1).alphasCumprod;
    const final0 = a.records.find((r) => r.iteration === 0 && r.step === 0)!.latentsOut;
    const zT = diffuse(final0, initialNoise(5, C, F, h, w), ac[ac.length - 1]);
    const zRand = freeInitNoise(5)(n, 1);
    expect([...a.reinit[0].zRand]).toEqual([...zRand]);
    expect([...a.reinit[0].zT]).toEqual([...zT]);
    const start = mixFrequencies(zT, zRand, freeInitFilter(F, h, w, fast2), C, F, h, w);
    expect([...a.reinit[0].latentsStart]).toEqual([...start]);
    expect([...a.records.find((r) => r.iteration === 1 && r.step === 0)!.latentsIn]).toEqual([...start]);
    // Another seed: other noise, other result.
    const c = await run(request({ seed: 6, freeInit: fast2 }));
    expect(c.res.latents).not.toEqual(a.res.latents);
  }, 600_000);

  it('iterations = 1 is exactly the plain run', async () => {
    const plain = await run(request({ steps: 2 }));
    const one = await run(request({ steps: 2, freeInit: { ...DEFAULT_FREEINIT, iterations: 1 } }));
    expect([...one.res.latents]).toEqual([...plain.res.latents]);
    expect(one.reinit).toEqual([]);
    expect(one.steps.map((s) => [s.iteration, s.iterations])).toEqual([[1, 1], [1, 1]]);
  }, 600_000);

  it('refuses a bad option or an Euler scheduler before sampling', async () => {
    const m = await tinyModels();
    const go = ([spec, opts]: [GenerationSpec, GenerateOptions]) => generate(m, spec, {}, opts);
    await expect(go(request({ freeInit: { ...fast2, spatialStopFrequency: 2 } }))).rejects.toThrow(/FreeInit\.spatialStopFrequency must be a number from 0 to 1 \(got 2\)/);
    await expect(go(request({ freeInit: { ...fast2, method: 'box' as never } }))).rejects.toMatchObject({ kind: 'invalid-settings' });
    const euler = defaultSchedulerFor('lightning');
    await expect(go(request({ freeInit: fast2 }, { scheduler: { className: euler.className, config: euler.config } })))
      .rejects.toThrow(/FreeInit needs a DDIM or LCM scheduler/);
    // The spec's scheduler name (no explicit class in the options).
    await expect(go(request({ freeInit: fast2, scheduler: 'euler-trailing' }, { scheduler: undefined }))).rejects.toBeInstanceOf(GenerateRequestError);
  });
});
