// The model catalogue (src/catalogue): every entry well formed, every hash a sha256, every cross-reference resolvable,
// and the recommended sampling derived from src/schedulers (no second copy of the numbers).
import { describe, expect, it } from 'vitest';
import { CATALOGUE, entriesOf, fileUrl, findEntry, hubResolveUrl, recommendedFor } from '../src/catalogue';
import { defaultSchedulerFor } from '../src/schedulers';

const SHA256 = /^[0-9a-f]{64}$/;
const COMMIT = /^[0-9a-f]{40}$/;
const REPO = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

describe('catalogue entries', () => {
  it('has the entries issue 8 asks for', () => {
    expect(findEntry('base', 'sd15')).toBeDefined();
    const community = entriesOf('base').filter((e) => e.family === 'sd15' && e.id !== 'sd15');
    expect(community.length).toBeGreaterThanOrEqual(4);
    for (const v of ['v1', 'v2', 'v3']) expect(entriesOf('motion').some((m) => m.version === v)).toBe(true);
    expect(entriesOf('motion').filter((m) => m.version === 'lightning').map((m) => m.lightningSteps).sort()).toEqual([1, 2, 4, 8]);
    const lcm = entriesOf('motion').find((m) => m.version === 'animatelcm');
    expect(lcm?.companionLora && findEntry('lora', lcm.companionLora.id)).toBeTruthy();
    expect(entriesOf('motion-lora')).toHaveLength(8);
    expect(entriesOf('tokenizer').length).toBeGreaterThanOrEqual(1);
  });

  it('ids are unique within a kind', () => {
    for (const kind of ['base', 'motion', 'motion-lora', 'lora', 'tokenizer'] as const) {
      const ids = entriesOf(kind).map((e) => e.id);
      expect(new Set(ids).size, kind).toBe(ids.length);
    }
  });

  for (const e of CATALOGUE) {
    it(`${e.kind} ${e.id} is well formed`, () => {
      expect(e.label.trim()).not.toBe('');
      expect(e.note.trim()).not.toBe('');
      expect(e.licence.trim()).not.toBe('');
      expect(e.confirmedBy.trim(), 'each entry names the source that confirms it').not.toBe('');
      expect(e.files.length).toBeGreaterThan(0);
      if (e.origin.kind === 'hub') {
        expect(e.origin.repo).toMatch(REPO);
        if (e.origin.revision !== undefined) expect(e.origin.revision).toMatch(COMMIT);
      } else {
        expect(e.origin.base).toMatch(/^\/.*\/$/);
      }
      const weightExt = e.kind === 'tokenizer' ? /\.json$/ : /\.safetensors$/;
      for (const file of e.files) {
        expect(file.path, 'never a pickle').not.toMatch(/\.(ckpt|bin|pt|pth|pkl)$/i);
        expect(file.path).toMatch(weightExt);
        expect(file.path).not.toMatch(/^\/|\.\.|\/\//);
        if (file.sha256 !== undefined) expect(file.sha256).toMatch(SHA256);
        if (file.size !== undefined) expect(Number.isSafeInteger(file.size) && file.size > 0).toBe(true);
        const url = new URL(fileUrl(e, file), 'http://localhost/');
        if (e.origin.kind === 'hub') expect(url.protocol).toBe('https:');
      }
      for (const c of e.configs) {
        expect(c.path).toMatch(/(^|\/)[^/]*config\.json$/);
        if (c.sha256 !== undefined) expect(c.sha256).toMatch(SHA256);
      }
      const paths = [...e.files, ...e.configs].map((x) => x.path);
      expect(new Set(paths).size).toBe(paths.length);
    });
  }

  it('base models name an existing tokenizer of their family', () => {
    for (const b of entriesOf('base')) {
      const t = findEntry('tokenizer', b.tokenizer);
      expect(t, b.id).toBeDefined();
      expect(t!.family).toBe(b.family);
    }
  });

  it('diffusers-layout base models list unet, vae and text encoder with their configs; fp16 files come as a set', () => {
    for (const b of entriesOf('base').filter((x) => x.files.length > 1 && x.origin.kind === 'hub')) {
      const dirs = b.files.map((x) => x.path.split('/')[0]).sort();
      expect(dirs).toEqual(['text_encoder', 'unet', 'vae']);
      expect(b.configs.map((x) => x.path).sort()).toEqual(['text_encoder/config.json', 'unet/config.json', 'vae/config.json']);
      const fp16 = b.files.map((x) => x.path.includes('.fp16.'));
      expect(new Set(fp16).size, `${b.id}: mixed fp16 and full-precision files`).toBe(1);
    }
  });

  it('Lightning entries load the diffusers file of their own step count', () => {
    for (const m of entriesOf('motion').filter((x) => x.version === 'lightning')) {
      expect(m.files[0].path).toBe(`animatediff_lightning_${m.lightningSteps}step_diffusers.safetensors`);
    }
  });
});

describe('recommended sampling derives from src/schedulers', () => {
  it('matches defaultSchedulerFor for every published motion module', () => {
    for (const m of entriesOf('motion').filter((x) => x.testSteps === undefined)) {
      const d = defaultSchedulerFor(m.version, { lightningSteps: m.lightningSteps });
      const r = recommendedFor(m);
      expect(r.steps).toBe(d.steps);
      expect(r.guidance).toBe(d.guidance);
      expect({ DDIMScheduler: 'ddim', EulerDiscreteScheduler: 'euler-trailing', LCMScheduler: 'lcm' }[d.className]).toBe(r.scheduler);
    }
  });

  it('AnimateLCM: one value for steps (the UI once said 6 while src/schedulers said 4)', () => {
    const lcm = entriesOf('motion').find((m) => m.version === 'animatelcm')!;
    expect(recommendedFor(lcm)).toEqual({ scheduler: 'lcm', steps: defaultSchedulerFor('animatelcm').steps, guidance: defaultSchedulerFor('animatelcm').guidance });
  });

  it('Lightning: steps = the checkpoint, guidance 1', () => {
    for (const m of entriesOf('motion').filter((x) => x.version === 'lightning')) {
      expect(recommendedFor(m)).toEqual({ scheduler: 'euler-trailing', steps: m.lightningSteps, guidance: 1 });
    }
  });
});

describe('hubResolveUrl', () => {
  it('builds resolve URLs and escapes each path segment', () => {
    expect(hubResolveUrl('a/b', 'main', 'unet/x y.safetensors')).toBe('https://huggingface.co/a/b/resolve/main/unet/x%20y.safetensors');
    expect(hubResolveUrl('a/b', 'refs/pr/1', 'f.json')).toBe('https://huggingface.co/a/b/resolve/refs%2Fpr%2F1/f.json');
  });
});
