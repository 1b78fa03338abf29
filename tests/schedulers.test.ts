// Schedulers (DDIM, Euler discrete, LCM) and CFG vs diffusers, from the oracle set pipeline_tiny:
// tables (ᾱ, timesteps, σ, init_noise_sigma) for every run in config.json, then a scheduler-only replay
// of every step: the oracle's guided noise prediction and input latents in, latents_out and x̂₀ out.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classifierFreeGuidance, createScheduler, defaultSchedulerFor, usesCfg, type Scheduler } from '../src/schedulers';
import { torchLinspaceF32 } from '../src/schedulers/tables';
import { VECTORS } from './oracle';

const DIR = `${VECTORS}/pipeline_tiny/vA`;

interface StEntry { dtype: string; shape: number[]; data_offsets: [number, number] }

/** Minimal safetensors reader (F32/F64/I64) for the oracle files. */
function readSafetensors(path: string) {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, StEntry>;
  delete (header as Record<string, unknown>).__metadata__;
  const base = 8 + n;
  const raw = (name: string) => {
    const e = header[name];
    if (!e) throw new Error(`${path}: no tensor ${name}`);
    return { e, copy: new Uint8Array(buf.subarray(base + e.data_offsets[0], base + e.data_offsets[1])).buffer };
  };
  return {
    has: (name: string) => name in header,
    f32(name: string): Float32Array {
      const { e, copy } = raw(name);
      if (e.dtype !== 'F32') throw new Error(`${name}: dtype ${e.dtype}, expected F32`);
      return new Float32Array(copy);
    },
    /** Numbers of any dtype (I64 timesteps, F32 scalars). */
    numbers(name: string): number[] {
      const { e, copy } = raw(name);
      if (e.dtype === 'I64') return Array.from(new BigInt64Array(copy), Number);
      if (e.dtype === 'F32') return Array.from(new Float32Array(copy));
      if (e.dtype === 'F64') return Array.from(new Float64Array(copy));
      throw new Error(`${name}: dtype ${e.dtype}`);
    },
  };
}

const config = JSON.parse(readFileSync(`${DIR}/config.json`, 'utf8'));
const out = readSafetensors(`${DIR}/outputs.safetensors`);
const runs = Object.entries(config.runs) as [string, {
  scheduler_class: string; scheduler_config: Record<string, unknown>; num_inference_steps: number;
  guidance_scale: number; timesteps: number[]; init_noise_sigma: number; cfg_active: boolean;
  recommended_tolerance_f32: Record<string, { atol: number; rel_to_ref_max: number }>;
}][];

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>) {
  expect(a.length).toBe(b.length);
  let maxAbs = 0, refMax = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= maxAbs)) maxAbs = d; // NaN is the worst
    refMax = Math.max(refMax, Math.abs(b[i]));
  }
  return { maxAbs, refMax };
}

/**
 * The run's recommended float32 tolerance for latents (atol, or rel_to_ref_max × the reference's max,
 * whichever is larger). These are pipeline tolerances; the scheduler alone is float32-exact emulation,
 * so the replay also asserts a much tighter bound (8 float32 ulps of the reference max, ≈ 1e-6 relative).
 */
function expectLatentsClose(got: Float32Array, ref: Float32Array, tol: { atol: number; rel_to_ref_max: number }, what: string) {
  const { maxAbs, refMax } = maxDiff(got, ref);
  const bound = Math.max(tol.atol, tol.rel_to_ref_max * refMax);
  expect(maxAbs, `${what}: max |Δ| ${maxAbs} vs config bound ${bound}`).toBeLessThanOrEqual(bound);
  const tight = 8 * 2 ** -23 * refMax;
  expect(maxAbs, `${what}: max |Δ| ${maxAbs} vs float32 bound ${tight}`).toBeLessThanOrEqual(tight);
}

describe('torch.linspace float32 emulation', () => {
  it('is exact at the ends and monotone', () => {
    const b = torchLinspaceF32(0.00085, 0.012, 1000);
    expect(b[0]).toBe(Math.fround(0.00085));
    expect(b[999]).toBe(Math.fround(0.012));
    for (let i = 1; i < b.length; i++) expect(b[i]).toBeGreaterThan(b[i - 1]);
  });
});

describe('schedulers vs diffusers (pipeline_tiny runs)', () => {
  it('config lists runs of every scheduler class', () => {
    const classes = new Set(runs.map(([, r]) => r.scheduler_class));
    expect([...classes].sort()).toEqual(['DDIMScheduler', 'EulerDiscreteScheduler', 'LCMScheduler']);
  });

  for (const [name, run] of runs) {
    const make = (noise?: (n: number, i: number) => Float32Array): Scheduler =>
      createScheduler(run.scheduler_class, run.scheduler_config, run.num_inference_steps, { noise });

    it(`${name}: tables (alphas_cumprod, timesteps, sigmas, init_noise_sigma)`, () => {
      const s = make();
      // ᾱ: float32 emulation of torch.linspace + torch.cumprod (double accumulator). Measured on vA: exact
      // up to t = 659, then ≤ 1.5 float32 ulp (torch's kernels differ in rounding detail we do not model).
      // Bound: 2 ulp of each value; an index shift, a float64 table or float32 accumulation is ≥ 20 ulp off.
      const ac = out.f32(`${name}.alphas_cumprod`);
      expect(s.alphasCumprod.length).toBe(ac.length);
      let worstUlps = 0;
      for (let i = 0; i < ac.length; i++) {
        const ulp = 2 ** (Math.floor(Math.log2(ac[i])) - 23);
        worstUlps = Math.max(worstUlps, Math.abs(s.alphasCumprod[i] - ac[i]) / ulp);
      }
      expect(worstUlps, 'alphas_cumprod: worst error in float32 ulps').toBeLessThanOrEqual(2);
      expect(s.timesteps).toEqual(out.numbers(`${name}.timesteps`));
      expect(s.timesteps).toEqual(run.timesteps);
      // σ = √((1−ᾱ)/ᾱ) inherits ᾱ's ulp-level differences (halved): allow 4 float32 ulps relative.
      const ulps = (got: number, ref: number) => (got === ref ? 0 : Math.abs(got - ref) / (Math.abs(ref) * 2 ** -23));
      expect(ulps(s.initNoiseSigma, out.numbers(`${name}.init_noise_sigma`)[0]), 'init_noise_sigma ulps').toBeLessThanOrEqual(4);
      if (out.has(`${name}.sigmas`)) {
        const sig = (s as unknown as { sigmas: Float32Array }).sigmas;
        const ref = out.numbers(`${name}.sigmas`);
        expect(sig.length).toBe(ref.length);
        sig.forEach((v, i) => expect(ulps(v, ref[i]), `sigmas[${i}] ${v} vs ${ref[i]}`).toBeLessThanOrEqual(4));
      }
      expect(usesCfg(run.guidance_scale)).toBe(run.cfg_active);
    });

    it(`${name}: scheduler-only replay of every step (${run.num_inference_steps} steps, guidance ${run.guidance_scale})`, () => {
      const s = make((n, i) => {
        const z = out.f32(`${name}.lcm_noise${i}`);
        expect(z.length).toBe(n);
        return z;
      });
      const tol = run.recommended_tolerance_f32.latents_final;
      let latents = out.f32(`${name}.step0.latents_in`);
      for (let i = 0; i < run.num_inference_steps; i++) {
        const p = `${name}.step${i}`;
        const t = out.numbers(`${p}.t`)[0];
        expect(t).toBe(s.timesteps[i]);
        if (out.has(`${p}.latent_model_input`)) {
          const lmi = s.scaleModelInput(latents, t);
          expectLatentsClose(lmi, out.f32(`${p}.latent_model_input`), tol, `${p}.latent_model_input`);
        }
        let eps: Float32Array;
        if (run.cfg_active) {
          eps = out.f32(`${p}.noise_pred_guided`);
          const guided = classifierFreeGuidance(out.f32(`${p}.noise_pred_uncond`), out.f32(`${p}.noise_pred_text`), run.guidance_scale);
          expectLatentsClose(guided, eps, tol, `${p}.noise_pred_guided (CFG)`);
        } else {
          eps = out.f32(`${p}.noise_pred`);
        }
        const r = s.step(eps, t, latents);
        expectLatentsClose(r.predOriginalSample, out.f32(`${p}.pred_original_sample`), tol, `${p}.pred_original_sample`);
        expectLatentsClose(r.prevSample, out.f32(`${p}.latents_out`), tol, `${p}.latents_out`);
        latents = out.f32(`${p}.latents_out`); // next step starts from the reference (no drift)
      }
    });
  }
});

describe('scheduler defaults and errors', () => {
  it('defaultSchedulerFor: DDIM for v1–v3, Euler trailing without CFG for Lightning, LCM for AnimateLCM', () => {
    for (const v of ['v1', 'v2', 'v3'] as const) {
      const d = defaultSchedulerFor(v);
      expect(d.className).toBe('DDIMScheduler');
      const s = createScheduler(d.className, d.config, d.steps);
      expect(s.timesteps.slice(0, 2)).toEqual([961, 921]); // animatediff.md §3: 25 steps ⇒ 961, 921, …, 41, 1
      expect(s.timesteps.at(-1)).toBe(1);
    }
    const l = defaultSchedulerFor('lightning', { lightningSteps: 2 });
    expect([l.className, l.guidance]).toEqual(['EulerDiscreteScheduler', 1]);
    expect(createScheduler(l.className, l.config, l.steps).timesteps).toEqual([999, 499]);
    const lcm = defaultSchedulerFor('animatelcm');
    expect(lcm.className).toBe('LCMScheduler');
    expect(createScheduler(lcm.className, lcm.config, lcm.steps).timesteps).toEqual([999, 759, 499, 259]);
  });

  it('rejects unsupported configs and mismatched arrays with specific messages', () => {
    const ddim = defaultSchedulerFor('v2');
    expect(() => createScheduler('PNDMScheduler', ddim.config, 4)).toThrow(/'PNDMScheduler' is not supported/);
    expect(() => createScheduler('DDIMScheduler', { ...ddim.config, prediction_type: 'v_prediction' }, 4)).toThrow(/v_prediction/);
    expect(() => createScheduler('DDIMScheduler', ddim.config, 0)).toThrow(/num_inference_steps 0/);
    const s = createScheduler('DDIMScheduler', ddim.config, 4);
    expect(() => s.step(new Float32Array(3), 751, new Float32Array(4))).toThrow(/3 elements but the latents have 4/);
    const e = createScheduler('EulerDiscreteScheduler', defaultSchedulerFor('lightning').config, 4);
    expect(() => e.scaleModelInput(new Float32Array(4), 500)).toThrow(/timestep 500 is not in the schedule/);
    expect(() => classifierFreeGuidance(new Float32Array(2), new Float32Array(3), 7.5)).toThrow(/uncond has 2/);
  });
});
