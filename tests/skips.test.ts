// A test that cannot run here must be reported as skipped, never as passed: no test file may return early when the
// adapter lacks a feature (tests/gpu.ts's F16 / cannotRun go to it.skipIf / describe.skipIf instead).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? testFiles(p) : d.name.endsWith('.test.ts') ? [p] : [];
  });
}

describe('skipped tests are reported as skipped', () => {
  it('no test returns early on a missing adapter feature', () => {
    const offenders = testFiles(path.resolve(__dirname)).filter((f) =>
      /hasF16\(\)\)?\)?\s*\)?\s*return|if \(!e\) return|features\.has\([^)]*\)\)?\s*return/.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => path.relative(__dirname, f))).toEqual([]);
  });
});
