import { describe, expect, it } from 'vitest';
import { previewJson, previewName } from '../../src/util/json-preview';
import { listSome } from '../../src/weights/errors';
import { hyperParamsFromDiffusers } from '../../src/models/config';
import { configKind } from '../../src/worker/runner';

/** [[[…n levels…]]] built as a value (JSON.parse is iterative in V8; JSON.stringify and String() are not). */
const deep = (n: number): unknown => JSON.parse(`${'['.repeat(n)}${']'.repeat(n)}`);

describe('bounded previews of untrusted values', () => {
  it('describes small values like JSON.stringify', () => {
    for (const v of [null, 1, -2.5, true, 'a"b', [], {}, [1, [2, 3]], { a: 1, b: 'x', c: [null] }]) expect(previewJson(v)).toBe(JSON.stringify(v));
  });

  it('stays short for deep, wide and long values, and never throws', () => {
    expect(() => JSON.stringify(deep(100_000))).toThrow(RangeError); // what the preview replaces
    const cases: unknown[] = [deep(100_000), Array.from({ length: 1e6 }, (_, i) => i), 'x'.repeat(1e7), { ['k'.repeat(1e6)]: deep(5000) }];
    for (const v of cases) {
      const s = previewJson(v);
      expect(s.length).toBeLessThanOrEqual(81);
      expect(s).toContain('…');
    }
    expect(previewJson(deep(10))).toBe('[[[[[[[…]]]]]]]'); // six levels, then the seventh elided
    expect(previewName('n'.repeat(1e6)).length).toBe(121);
    expect(listSome(['a'.repeat(1e6), 'b']).length).toBeLessThan(200);
  });

  it('config readers survive nested values in config.json', () => {
    expect(configKind({ _class_name: deep(100_000), architectures: [deep(100_000)] })).toBeNull();
    expect(() => hyperParamsFromDiffusers({ time_cond_proj_dim: deep(100_000) })).toThrow(/time_cond_proj_dim = \[\[\[/);
  });
});
