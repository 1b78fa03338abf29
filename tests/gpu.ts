// Shared GPU setup for unit tests. A missing adapter is a failure, never a skip: CI provides one
// (Mesa lavapipe or SwiftShader through scripts/with-gpu.mjs).
import { afterAll } from 'vitest';
import type { Engine } from '../src/gpu/engine';
import { createNodeEngine, nodeGpu } from '../src/platform/node-gpu';

const engines = new Map<string, Promise<Engine>>();

/** One engine per precision per test file; destroyed after the file's tests. */
export function testEngine(precision: 'f32' | 'f16' = 'f32'): Promise<Engine> {
  let e = engines.get(precision);
  if (!e) {
    e = createNodeEngine({ precision });
    engines.set(precision, e);
  }
  return e;
}

/** Whether f16 tests can run here. CI sets ADW_REQUIRE_F16=1 (lavapipe has shader-f16) so they never silently vanish. */
export async function hasF16(): Promise<boolean> {
  const adapter = await (await nodeGpu()).requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter: run tests through scripts/with-gpu.mjs (npm test)');
  const has = adapter.features.has('shader-f16');
  if (!has && process.env.ADW_REQUIRE_F16 === '1') throw new Error('ADW_REQUIRE_F16=1 but the adapter has no shader-f16');
  return has;
}

/**
 * Probed once when a test file loads (top-level await): f16 tests use `it.skipIf(!F16)` / `describe.skipIf`, so on
 * an adapter without shader-f16 (SwiftShader) they are reported as skipped, never as passed; with ADW_REQUIRE_F16=1
 * (CI, npm test on lavapipe) the missing feature fails the file instead.
 */
export const F16: boolean = await hasF16();

/** True when a case of this precision cannot run here (f16 without shader-f16): pass to `skipIf`. */
export const cannotRun = (precision: 'f32' | 'f16'): boolean => precision === 'f16' && !F16;

afterAll(async () => {
  for (const e of engines.values()) (await e).destroy();
  engines.clear();
});
