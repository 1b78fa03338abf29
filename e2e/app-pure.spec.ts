// The UI's pure helpers (app/src), tested in Node without a page: the status line and the request built from the form.
import { expect, test } from '@playwright/test';
import { statusLine } from '../app/src/status-line';

test('status line: checking, ready, the last outcome, each phase of a run', () => {
  const idle = { checked: true, notice: null, run: null, plannedSteps: 0 };
  expect(statusLine({ ...idle, checked: false }).text).toBe('Checking WebGPU…');
  expect(statusLine(idle)).toEqual({ text: 'Ready.', fraction: null });
  expect(statusLine({ ...idle, notice: 'Done: 8 frames in 0:12.' }).text).toBe('Done: 8 frames in 0:12.');
  const run = { id: 1, phase: 'loading' as const, decoded: 0, frames: 8 };
  expect(statusLine({ ...idle, run }).text).toBe('Starting…');
  const load = { phase: 'upload' as const, file: 'UNet + motion module', loaded: 1, total: 4 };
  expect(statusLine({ ...idle, run: { ...run, load } })).toEqual({ text: 'Loading models: uploading to the GPU UNet + motion module (1 of 4)', fraction: 0.25 });
  expect(statusLine({ ...idle, run: { ...run, phase: 'sampling' }, plannedSteps: 3 })).toEqual({ text: 'Step 1 of 3 · encoding the prompt', fraction: 0 });
  const step = { step: 1, steps: 3, iteration: 1, iterations: 1, iterationSteps: [3], elapsedMs: 61_000, etaMs: 122_000 };
  expect(statusLine({ ...idle, run: { ...run, phase: 'sampling', step } })).toEqual({ text: 'Step 2 of 3 · 1:01 elapsed · about 2:02 left', fraction: 1 / 3 });
  // FreeInit, fast sampling (1 then 3 steps): the iteration is named, the bar counts the steps of all iterations.
  const fi = { ...step, iterations: 2, iterationSteps: [1, 3], steps: 1, step: 1, etaMs: 183_000 };
  expect(statusLine({ ...idle, run: { ...run, phase: 'sampling', step: fi } })).toEqual({ text: 'Iteration 2 of 2 · step 1 of 3 · 1:01 elapsed · about 3:03 left', fraction: 1 / 4 });
  const fi2 = { ...fi, iteration: 2, steps: 3, step: 2, etaMs: 30_000 };
  expect(statusLine({ ...idle, run: { ...run, phase: 'sampling', step: fi2 } })).toEqual({ text: 'Iteration 2 of 2 · step 3 of 3 · 1:01 elapsed · about 0:30 left', fraction: 3 / 4 });
  // Context windows: the window running inside the step (the one after the last finished), its share in the bar;
  // a report from an earlier step means the first window of this one.
  const win = { iteration: 1, step: 2, window: 3, windows: 4 };
  expect(statusLine({ ...idle, run: { ...run, phase: 'sampling', step, window: win } })).toEqual({ text: 'Step 2 of 3 · window 4 of 4 · 1:01 elapsed · about 2:02 left', fraction: (1 + 3 / 4) / 3 });
  expect(statusLine({ ...idle, run: { ...run, phase: 'sampling', step, window: { ...win, step: 1, window: 4 } } }).text).toBe('Step 2 of 3 · window 1 of 4 · 1:01 elapsed · about 2:02 left');
  expect(statusLine({ ...idle, run: { ...run, phase: 'sampling', window: { ...win, step: 1, window: 1 } }, plannedSteps: 3 }).text).toBe('Step 1 of 3 · window 2 of 4');
  expect(statusLine({ ...idle, run: { ...run, phase: 'sampling', step: fi, window: { iteration: 1, step: 1, window: 4, windows: 4 } } }).text)
    .toBe('Iteration 2 of 2 · step 1 of 3 · window 1 of 4 · 1:01 elapsed · about 3:03 left');
  expect(statusLine({ ...idle, run: { ...run, phase: 'decoding', decoded: 2 } })).toEqual({ text: 'Decoding frame 3 of 8', fraction: 0.25 });
  expect(statusLine({ ...idle, run: { ...run, phase: 'cancelling' } }).text).toBe('Cancelling…');
});
