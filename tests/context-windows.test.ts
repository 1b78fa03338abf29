// The uniform context-window schedule (pure): coverage, the shapes animatediff-cli / AnimateDiff-Evolved give,
// rotation symmetry of the looped schedule, and the fuse weights.
import { describe, expect, it } from 'vitest';
import { coverage, fuseWeights, orderedHalving, uniformWindows } from '../src/pipeline/context-windows';

const range = (a: number, n: number, c = 1) => [...Array(n).keys()].map((i) => a + i * c);

describe('orderedHalving', () => {
  it('is the bit-reversed step over 2^64', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(orderedHalving)).toEqual([0, 0.5, 0.25, 0.75, 0.125, 0.625, 0.375, 0.875]);
  });
});

describe('fuseWeights', () => {
  it('pyramid rises to the middle and falls (odd lengths peak once), flat is all ones', () => {
    expect(fuseWeights(8, 'pyramid')).toEqual([1, 2, 3, 4, 4, 3, 2, 1]);
    expect(fuseWeights(7, 'pyramid')).toEqual([1, 2, 3, 4, 3, 2, 1]);
    expect(fuseWeights(1, 'pyramid')).toEqual([1]);
    expect(fuseWeights(3, 'flat')).toEqual([1, 1, 1]);
  });
});

describe('uniformWindows', () => {
  const ctx = { length: 8, stride: 1, overlap: 4 };

  it('one window of every frame when the clip fits one window', () => {
    for (const F of [1, 5, 8]) expect(uniformWindows(F, { ...ctx, closedLoop: true }, 3)).toEqual([range(0, F)]);
  });

  it('step 0 closed loop: windows every L − overlap frames, the last ones wrapping to frame 0', () => {
    expect(uniformWindows(16, { ...ctx, closedLoop: true }, 0)).toEqual([
      range(0, 8), range(4, 8), range(8, 8), [12, 13, 14, 15, 0, 1, 2, 3],
    ]);
  });

  it('step 0 open: no window wraps', () => {
    expect(uniformWindows(16, { ...ctx, closedLoop: false }, 0)).toEqual([range(0, 8), range(4, 8), range(8, 8)]);
  });

  it('step 1 (ordered_halving ½) shifts the windows by F/2; open windows that would wrap end at the last frame', () => {
    expect(uniformWindows(16, { ...ctx, closedLoop: true }, 1)).toEqual([
      range(8, 8), [12, 13, 14, 15, 0, 1, 2, 3], range(0, 8), range(4, 8),
    ]);
    const open = uniformWindows(20, { ...ctx, closedLoop: false }, 1);
    for (const w of open) expect(w).toEqual(range(w[0], 8));
    expect(Math.max(...open.flat())).toBe(19);
  });

  it('dilation levels: stride 2 adds windows of every 2nd frame', () => {
    const w = uniformWindows(24, { ...ctx, stride: 2, closedLoop: true }, 0);
    expect(w.filter((x) => x[1] - x[0] === 1 || x[1] - x[0] === 1 - 24)).toHaveLength(6);
    expect(w.filter((x) => (x[1] - x[0] + 24) % 24 === 2)).toEqual([range(0, 8, 2), range(12, 6, 2).concat(range(0, 2, 2))]);
  });

  it('every frame is covered at every step, open or looped, 1 to 128 frames, with both fusions', () => {
    const bad: string[] = [];
    for (const closedLoop of [true, false]) for (const [L, ov, stride] of [[8, 4, 1], [16, 4, 2], [16, 0, 1], [12, 11, 3], [5, 2, 2]]) {
      for (let F = 1; F <= 128; F += F < 40 ? 1 : 11) for (let step = 0; step < 6; step++) {
        const what = `F ${F} L ${L} overlap ${ov} stride ${stride} loop ${closedLoop} step ${step}`;
        const wins = uniformWindows(F, { length: L, overlap: ov, stride, closedLoop }, step);
        for (const win of wins) {
          if (win.length !== Math.min(F, L)) bad.push(`${what}: window of ${win.length}`);
          if (new Set(win).size !== win.length) bad.push(`${what}: a frame twice in [${win}]`);
          for (const f of win) if (!(Number.isInteger(f) && f >= 0 && f < F)) bad.push(`${what}: frame ${f}`);
        }
        for (const fuse of ['flat', 'pyramid'] as const) if (!coverage(F, wins, fuse).every((v) => v > 0)) bad.push(`${what}: uncovered (${fuse})`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('looped windows are symmetric under rotation by k = a multiple of every level\'s window step when F is too', () => {
    // F 24, L 8, overlap 4, 2 levels: window steps 8 − 4 = 4 and 16 − 4 = 12; k = 12 is a multiple of both, so
    // rotating every window by 12 frames gives the same set of windows (the loop test in generate relies on this).
    const key = (w: number[]) => w.join(',');
    for (let step = 0; step < 8; step++) {
      const wins = uniformWindows(24, { length: 8, overlap: 4, stride: 2, closedLoop: true }, step);
      const rotated = wins.map((w) => w.map((f) => (f + 12) % 24));
      expect(new Set(rotated.map(key))).toEqual(new Set(wins.map(key)));
    }
  });
});
