// The activation arena packing (src/plan/arena.ts) on random allocation traces: no two allocations alive at the same
// time overlap in one slab, allocations that meet in a dispatch never share a slab, slots are aligned, and the
// arenas stay close to the most bytes alive at once.
import { describe, expect, it } from 'vitest';
import { ARENA_ALIGN, type ScopeAllocation } from '../src/gpu/pool';
import { liveBound, packArena } from '../src/plan/arena';
import { rng } from './random';

/** A random trace: n allocations of random sizes, each released after a random number of later events (some never). */
function randomTrace(n: number, seed: number): { allocs: ScopeAllocation[]; together: [number, number][] } {
  const r = rng(seed);
  const allocs: ScopeAllocation[] = [];
  const open: number[] = [];
  const together: [number, number][] = [];
  let clock = 0;
  for (let i = 0; i < n; i++) {
    while (open.length && r() < 0.45) {
      const k = open.splice(Math.floor(r() * open.length), 1)[0];
      allocs[k].end = clock++;
    }
    allocs.push({ bytes: 1 + Math.floor(r() ** 3 * 5_000_000), start: clock++, end: Infinity });
    // the new tensor is written by a dispatch that reads up to two live ones
    for (let j = 0; j < 2 && open.length; j++) together.push([i, open[Math.floor(r() * open.length)]]);
    open.push(i);
  }
  for (const k of open) if (r() < 0.7) allocs[k].end = clock++;
  return { allocs, together };
}

describe('packArena', () => {
  for (const seed of [1, 2, 3]) {
    it(`random trace ${seed}: no live overlap within a slab, dispatch partners in different slabs, near the live bound`, () => {
      const { allocs, together } = randomTrace(400, seed);
      const plan = packArena(allocs, together);
      const slot = (b: number) => Math.ceil(b / ARENA_ALIGN) * ARENA_ALIGN;
      expect(plan.sizes).toEqual(allocs.map((a) => a.bytes));
      for (let i = 0; i < allocs.length; i++) {
        expect(plan.offsets[i] % ARENA_ALIGN).toBe(0);
        expect(plan.offsets[i] + slot(allocs[i].bytes)).toBeLessThanOrEqual(plan.slabs[plan.slab[i]]);
        for (let j = i + 1; j < allocs.length; j++) {
          if (plan.slab[i] !== plan.slab[j]) continue;
          const live = allocs[i].start < allocs[j].end && allocs[j].start < allocs[i].end;
          const overlap = plan.offsets[i] < plan.offsets[j] + slot(allocs[j].bytes) && plan.offsets[j] < plan.offsets[i] + slot(allocs[i].bytes);
          expect(live && overlap, `allocations ${i} and ${j} overlap while both alive`).toBe(false);
        }
      }
      for (const [a, b] of together) expect(plan.slab[a], `partners ${a}, ${b}`).not.toBe(plan.slab[b]);
      const total = plan.slabs.reduce((s, b) => s + b, 0);
      const bound = liveBound(allocs);
      console.log(`seed ${seed}: ${plan.slabs.length} slabs, ${total} B for a live bound of ${bound} B (×${(total / bound).toFixed(2)})`);
      expect(total).toBeGreaterThanOrEqual(bound);
      expect(total).toBeLessThan(2 * bound);
    });
  }
});
