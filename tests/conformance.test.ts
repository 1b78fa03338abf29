// The conformance harness on every oracle set (../shared/oracle/vectors/<set>/vA), and its failure modes.
// A set without a runner is a failing test, not a skip.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compare, toleranceFor } from '../src/conformance/compare';
import { loadRunners, readConfig, runConformance } from '../src/conformance/harness';
import { type CanonicalWeights, ConformanceError, type SetRunner } from '../src/conformance/registry';
import { nodeFolderReader } from '../src/platform/node-folder-reader';
import { hostF32, memoryWeightMap } from '../src/weights/weight-map';
import { testEngine } from './gpu';

const repoRoot = path.resolve(__dirname, '..');
const VECTORS = path.resolve(repoRoot, '../shared/oracle/vectors');
const allSets = existsSync(VECTORS) ? readdirSync(VECTORS).filter((s) => existsSync(path.join(VECTORS, s, 'vA'))) : [];
/**
 * Oracle sets whose runner is not written yet (the long-animation issue). They are reported as pending
 * (vitest `todo`), never as passed, and the list is checked: every entry must still be an oracle set
 * without a runner, and the list must be empty when that issue is resolved.
 */
export const PENDING_SETS: readonly string[] = [];
const sets = allSets.filter((s) => !PENDING_SETS.includes(s));

describe('tolerances', () => {
  it('pass when max|out-ref| <= max(atol, rel·max|ref|), integers exactly', () => {
    const cfg = { recommended_tolerance_f32: { image: { atol: 1e-3, rel_to_ref_max: 1e-2 } }, runs: { r: { recommended_tolerance_f32: { latents_final: { atol: 1, rel_to_ref_max: 0 } } } } };
    const tol = toleranceFor(cfg, 'image', 'F32');
    expect(compare([10.05, 0], [10, 0], tol)).toMatchObject({ pass: true, bound: 0.1 }); // rel term wins: 1e-2 · 10
    expect(compare([10.2, 0], [10, 0], tol).pass).toBe(false);
    expect(compare([0.0009], [0], tol).pass).toBe(true); // atol wins at a zero reference
    expect(compare([NaN], [0], tol).pass).toBe(false);
    expect(toleranceFor(cfg, 'r.latents_final', 'F32')).toMatchObject({ atol: 1, rel: 0 });
    expect(toleranceFor(cfg, 'r.step0.noise_pred', 'F32').source).toMatch(/multi-step/);
    // An entry naming the trailing dotted components (freeinit_tiny: `iter1.latents_start`); not a partial name.
    const fi = { runs: { r: { recommended_tolerance_f32: { 'iter1.latents_start': { atol: 8e-6, rel_to_ref_max: 2e-6 } } } } };
    expect(toleranceFor(fi, 'r.free_init.iter1.latents_start', 'F32')).toMatchObject({ atol: 8e-6, rel: 2e-6 });
    expect(toleranceFor(fi, 'r.free_init.xiter1.latents_start', 'F32').source).toMatch(/multi-step/);
    expect(toleranceFor(fi, 'r.free_init.iter1.latents_start_official', 'F32').source).toMatch(/multi-step/);
    const exact = toleranceFor(cfg, 'ids', 'I64');
    expect(compare([1, 2], [1, 2], exact).pass).toBe(true);
    expect(compare([1, 3], [1, 2], exact).pass).toBe(false);
  });
});

describe('conformance harness on every oracle set (vA)', () => {
  it('finds the oracle sets', () => {
    expect(sets.length, `no sets under ${VECTORS}`).toBeGreaterThanOrEqual(7);
  });
  it('the pending list names only oracle sets that still have no runner', async () => {
    const runners = await loadRunners();
    for (const set of PENDING_SETS) {
      expect(allSets, `${set} is pending but is not an oracle set`).toContain(set);
      const cfg = await readConfig(nodeFolderReader(path.join(VECTORS, set, 'vA')));
      const handled = runners.filter((r) => r.matches(cfg, path.join(VECTORS, set, "vA")));
      expect(handled.map((r) => r.name), `${set} has a runner now: take it off PENDING_SETS`).toEqual([]);
    }
  });
  for (const set of PENDING_SETS) it.todo(`${set}/vA: pending (no runner yet)`);
  for (const set of sets) {
    it(`${set}/vA: every compared tensor passes`, async () => {
      const e = await testEngine('f32');
      const lines: string[] = [];
      const r = await runConformance({ engine: e, files: nodeFolderReader(path.join(VECTORS, set, 'vA')), log: (l) => lines.push(l) });
      const failures = lines.filter((l) => l.startsWith('FAIL'));
      expect(failures, failures.join('\n')).toEqual([]);
      expect(r.passed).toBeGreaterThan(0);
      expect(lines.at(-1)).toBe(`${r.passed} passed, 0 failed`);
    }, 3_600_000);
  }
});

describe('harness failure modes', () => {
  const vae = path.join(VECTORS, 'vae_decoder_tiny/vA');

  function tempFolder(files: Record<string, string | null>): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'adw-conformance-'));
    for (const [name, content] of Object.entries(files)) {
      if (content === null) copyFileSync(path.join(vae, name), path.join(dir, name));
      else writeFileSync(path.join(dir, name), content);
    }
    return dir;
  }

  it('rejects an unknown set and a folder without outputs.safetensors with a ConformanceError naming the problem', async () => {
    const e = await testEngine('f32');
    const unknown = tempFolder({ 'config.json': JSON.stringify({ set: 'no_such_set' }) });
    const noOutputs = tempFolder({ 'config.json': null, 'inputs.safetensors': null, 'vae_diffusers.safetensors': null });
    try {
      await expect(runConformance({ engine: e, files: nodeFolderReader(unknown), log: () => {} })).rejects.toThrow(/unknown set "no_such_set"/);
      await expect(runConformance({ engine: e, files: nodeFolderReader(noOutputs), log: () => {} })).rejects.toThrow(ConformanceError);
      await expect(runConformance({ engine: e, files: nodeFolderReader(noOutputs), log: () => {} })).rejects.toThrow(/outputs\.safetensors is missing/);
    } finally {
      for (const d of [unknown, noOutputs]) rmSync(d, { recursive: true, force: true });
    }
  });

  it('counts a runner that produces a wrong tensor or throws as failures', async () => {
    const e = await testEngine('f32');
    const base: Omit<SetRunner, 'run'> = {
      name: 'vae_decoder_tiny', matches: (c) => c.set === 'vae_decoder_tiny',
      layouts: async () => [{ name: 'none', files: [] }], notProduced: () => [/^inter\./],
    };
    const wrong: SetRunner = { ...base, run: async (ctx) => new Map([['image', new Float32Array(ctx.references.get('image')!.data.length)]]) };
    const lines: string[] = [];
    const r = await runConformance({ engine: e, files: nodeFolderReader(vae), runners: [wrong], log: (l) => lines.push(l) });
    expect(r.failed).toBe(1);
    expect(lines.at(-1)).toBe('0 passed, 1 failed');
    const throws: SetRunner = { ...base, run: async () => { throw new Error('boom'); } };
    const r2 = await runConformance({ engine: e, files: nodeFolderReader(vae), runners: [throws], log: () => {} });
    expect(r2.failed).toBeGreaterThan(0);
  });

  it('runs a layout whose canonical weights equal the first layout\'s only once, and runs one that differs', async () => {
    const e = await testEngine('f32');
    // Fake canonical weights: layout "a" and "same" load to identical tensors, "other" differs in one value.
    const tensors: Record<string, Float32Array> = { a: Float32Array.of(1, 2, 3), same: Float32Array.of(1, 2, 3), other: Float32Array.of(1, 2, 4) };
    const loadWeights = async (_f: unknown, paths: string[]): Promise<CanonicalWeights> => {
      const v = tensors[paths[0]];
      return memoryWeightMap(new Map([['w', hostF32(v, [3])]]));
    };
    const runs: string[] = [];
    const runner: SetRunner = {
      name: 'vae_decoder_tiny', matches: (c) => c.set === 'vae_decoder_tiny', notProduced: () => [/^inter\./, /^image$/],
      layouts: async () => ['a', 'same', 'other'].map((n) => ({ name: n, files: [n] })),
      outputsDependOnlyOnCanonicalWeights: true,
      run: async (ctx) => { runs.push(ctx.layout.name); return new Map(); },
    };
    const lines: string[] = [];
    await runConformance({ engine: e, files: nodeFolderReader(vae), runners: [runner], loadWeights, log: (l) => lines.push(l) });
    expect(runs).toEqual(['a', 'other']);
    expect(lines.find((l) => l.includes('[same,'))).toMatch(/^PASS \(canonical weights\).*1 tensors bit-identical to layout a/);
    expect(lines.find((l) => l.includes('(canonical weights)  [other,'))).toMatch(/^FAIL .*w\[2\] = 4 vs 3/);
  });

  it('the CLI exits non-zero with a clear message for a broken folder', () => {
    const unknown = tempFolder({ 'config.json': JSON.stringify({ set: 'no_such_set' }) });
    const noOutputs = tempFolder({ 'config.json': null, 'inputs.safetensors': null, 'vae_diffusers.safetensors': null });
    try {
      for (const [dir, msg] of [[unknown, /unknown set "no_such_set"/], [noOutputs, /outputs\.safetensors is missing/], [path.join(unknown, 'nope'), /is not a folder/]] as const) {
        const r = spawnSync('node', ['scripts/with-gpu.mjs', 'vite-node', 'scripts/conformance.ts', '--', dir], {
          cwd: repoRoot, encoding: 'utf8', env: { ...process.env, PATH: `${path.join(repoRoot, 'node_modules/.bin')}:${process.env.PATH}` },
        });
        expect(r.status, r.stderr).not.toBe(0);
        expect(r.stderr).toMatch(msg);
      }
    } finally {
      rmSync(unknown, { recursive: true, force: true });
      rmSync(noOutputs, { recursive: true, force: true });
    }
  }, 120_000);
});
