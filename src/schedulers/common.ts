// Checks shared by the schedulers.
import type { DiffusersSchedulerConfig } from './types';

/** Rejects configs this implementation does not compute (rather than silently computing something else). */
export function checkEpsilonConfig(kind: string, cfg: DiffusersSchedulerConfig): void {
  const pred = cfg.prediction_type ?? 'epsilon';
  if (pred !== 'epsilon') throw new Error(`${kind}: prediction_type '${pred}' is not supported (epsilon only)`);
  if (cfg.thresholding) throw new Error(`${kind}: thresholding is not supported`);
}

export function checkSteps(kind: string, steps: number, numTrain: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > numTrain) {
    throw new Error(`${kind}: num_inference_steps ${steps} must be an integer in [1, ${numTrain}]`);
  }
}

export function checkSameLength(kind: string, noisePred: Float32Array, latents: Float32Array): void {
  if (noisePred.length !== latents.length) {
    throw new Error(`${kind}.step: noise prediction has ${noisePred.length} elements but the latents have ${latents.length}`);
  }
}

/** Index of t in the schedule, as diffusers' `index_for_timestep` (the second match when t repeats). */
export function indexForTimestep(kind: string, timesteps: number[], t: number): number {
  const hits: number[] = [];
  timesteps.forEach((v, i) => { if (v === t) hits.push(i); });
  if (hits.length === 0) throw new Error(`${kind}: timestep ${t} is not in the schedule [${timesteps}]`);
  return hits.length > 1 ? hits[1] : hits[0];
}
