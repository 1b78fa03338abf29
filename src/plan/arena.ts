// Buffer reuse by liveness: the allocations of one UNet evaluation (recorded in order with their lifetimes on the
// planner's null device) packed into a few arena buffers ("slabs").
// A tensor written by a dispatch or copy must live in another buffer than every other tensor of that dispatch
// (WebGPU forbids a buffer bound writable alongside any other use in one dispatch, and copies within one buffer).
// Greedy by size, largest first: each allocation goes to the slab, among those none of its partners uses, where
// the lowest offset overlapping no placed allocation alive at the same time grows the slab least.
// The slabs then hold about the most bytes alive at once instead of the pool's sum of idle and busy buffers.
import { ARENA_ALIGN, type ArenaPlan, type ScopeAllocation } from '../gpu/pool';

const slot = (bytes: number) => Math.ceil(bytes / ARENA_ALIGN) * ARENA_ALIGN;

export function packArena(allocs: readonly ScopeAllocation[], together: readonly [number, number][]): ArenaPlan {
  const partners = allocs.map(() => new Set<number>());
  for (const [a, b] of together) { partners[a].add(b); partners[b].add(a); }
  const slab = new Array<number>(allocs.length).fill(-1);
  const offsets = new Array<number>(allocs.length).fill(0);
  const members: number[][] = [];
  const slabs: number[] = [];
  const order = allocs.map((_, i) => i).sort((a, b) => slot(allocs[b].bytes) - slot(allocs[a].bytes) || allocs[a].start - allocs[b].start);
  for (const i of order) {
    const a = allocs[i];
    const size = slot(a.bytes);
    const banned = new Set([...partners[i]].map((j) => slab[j]).filter((x) => x >= 0));
    let best = { s: -1, at: 0, growth: Infinity };
    for (let s = 0; s <= slabs.length; s++) {
      if (banned.has(s)) continue;
      let at = 0;
      if (s < slabs.length) {
        const busy = members[s]
          .filter((j) => allocs[j].start < a.end && a.start < allocs[j].end)
          .map((j) => [offsets[j], offsets[j] + slot(allocs[j].bytes)] as const)
          .sort((x, y) => x[0] - y[0]);
        for (const [lo, hi] of busy) {
          if (at + size <= lo) break;
          at = Math.max(at, hi);
        }
      }
      const growth = Math.max(0, at + size - (slabs[s] ?? 0));
      if (growth < best.growth || (growth === best.growth && at < best.at)) best = { s, at, growth };
      if (growth === 0) break;
    }
    if (best.s === slabs.length) { slabs.push(0); members.push([]); }
    slab[i] = best.s;
    offsets[i] = best.at;
    members[best.s].push(i);
    slabs[best.s] = Math.max(slabs[best.s], best.at + size);
  }
  return { slabs, sizes: allocs.map((a) => a.bytes), slab, offsets };
}

/** The most bytes alive at once (the arenas' lower bound), for reports. */
export function liveBound(allocs: readonly ScopeAllocation[]): number {
  const ev: [number, number][] = [];
  for (const a of allocs) { ev.push([a.start, slot(a.bytes)]); if (Number.isFinite(a.end)) ev.push([a.end, -slot(a.bytes)]); }
  ev.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let cur = 0, max = 0;
  for (const [, d] of ev) { cur += d; max = Math.max(max, cur); }
  return max;
}
