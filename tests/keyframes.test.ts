// The prompt editor's keyframe text (one "frame: prompt" line per keyframe) ⇄ the spec's keyframes.
import { describe, expect, it } from 'vitest';
import { formatKeyframes, KeyframeTextError, parseKeyframes } from '../src/pipeline/keyframes';

const fails = (text: string, frames: number) => {
  try {
    parseKeyframes(text, frames);
  } catch (e) {
    expect(e).toBeInstanceOf(KeyframeTextError);
    return { line: (e as KeyframeTextError).line, message: (e as Error).message };
  }
  throw new Error('no KeyframeTextError');
};

describe('parseKeyframes', () => {
  it('reads one line per keyframe, sorted, prompts trimmed; blank lines ignored', () => {
    expect(parseKeyframes('0: a bud\n\n16:  a flower opening \n8: a stem', 24)).toEqual([
      { frame: 0, prompt: 'a bud' }, { frame: 8, prompt: 'a stem' }, { frame: 16, prompt: 'a flower opening' },
    ]);
    expect(parseKeyframes('  0 : x\r\n23: y', 24)).toEqual([{ frame: 0, prompt: 'x' }, { frame: 23, prompt: 'y' }]);
  });

  it('text without frame numbers is one prompt for the whole clip (line breaks become spaces; colons are fine)', () => {
    expect(parseKeyframes('a cat', 16)).toEqual([{ frame: 0, prompt: 'a cat' }]);
    expect(parseKeyframes(' photo: a cat,\n  golden hour ', 16)).toEqual([{ frame: 0, prompt: 'photo: a cat, golden hour' }]);
  });

  it('names the line: frame out of range, duplicate frame, empty prompt, a line without a frame, no frame 0', () => {
    expect(fails('0: a\n24: b', 24)).toEqual({ line: 2, message: 'Line 2: frame 24 is out of range: the animation has frames 0 to 23.' });
    expect(fails('0: a\n5: b\n5: c', 24)).toEqual({ line: 3, message: 'Line 3: frame 5 already has a prompt (line 2).' });
    expect(fails('0: a\n7:   ', 24)).toEqual({ line: 2, message: 'Line 2: the prompt of frame 7 is empty.' });
    expect(fails('0: a\nthen b', 24)).toMatchObject({ line: 2, message: expect.stringContaining('start it with a frame number') });
    expect(fails('4: a\n9: b', 24)).toEqual({ line: 1, message: 'Line 1: the first keyframe must be at frame 0 (the animation starts there), not 4.' });
    expect(fails(' \n\n', 24)).toEqual({ line: 0, message: 'The prompt is empty: write a prompt first.' });
    expect(fails('0: a\n99999999999999999999: b', 24)).toMatchObject({ line: 2 });
  });

  it('formatKeyframes is its inverse', () => {
    for (const text of ['a cat', '0: a bud\n16: a flower']) expect(formatKeyframes(parseKeyframes(text, 24))).toBe(text);
    expect(parseKeyframes(formatKeyframes([{ frame: 0, prompt: 'x' }, { frame: 3, prompt: 'y: z' }]), 8)).toEqual([{ frame: 0, prompt: 'x' }, { frame: 3, prompt: 'y: z' }]);
  });
});
