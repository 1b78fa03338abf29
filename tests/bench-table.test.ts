// The bench table says how many timed runs each row is: a one-run baseline is not a "median of 3".
import { describe, expect, it } from 'vitest';
import { formatTable } from '../bench/suite';

describe('bench table', () => {
  it('names the run count of rows timed fewer times than the header says', () => {
    const t = formatTable({ adapter: 'a', dtype: 'f32', date: 'd', full: false, runtime: 'node' }, [
      { file: 'x', name: 'ours', shape: 's', oursMs: 2, oursWallMs: 2, timing: 'gpu', runs: 3 },
      { file: 'x', name: 'ORT-web baseline', shape: 's', oursMs: 50, oursWallMs: 50, timing: 'wall', runs: 1 },
    ]);
    expect(t).toContain('timing: one warm-up, then the median of 3 timed runs unless the timing column names another count');
    expect(t).toMatch(/\| ours \| s \| 2\.000 \|.*\| gpu \|/);
    expect(t).toMatch(/\| ORT-web baseline \| s \| 50\.0 \|.*\| wall, 1 run \|/);
  });
});
