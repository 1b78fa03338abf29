// The prompt editor's text ⇄ the spec's keyframes, in the one-line-per-keyframe form animatediff-cli-prompt-travel
// users know:
//   0: a bud
//   16: a flower opening
// Text without any "N:" line is one prompt for the whole clip (line breaks become spaces). Once a line starts with a
// frame number every non-empty line must; the first keyframe must be at frame 0 (the animation starts there).
import type { PromptKeyframe } from './spec';

/** Text the keyframe parser refuses; `line` is 1-based (0 when the text as a whole is at fault). */
export class KeyframeTextError extends Error {
  override name = 'KeyframeTextError';
  constructor(readonly line: number, message: string) {
    super(line > 0 ? `Line ${line}: ${message}.` : `${message}.`);
  }
}

const KEYFRAME_LINE = /^\s*(\d+)\s*:(.*)$/;

/** The keyframes of `text` for an animation of `frames` frames, sorted by frame; KeyframeTextError names the line. */
export function parseKeyframes(text: string, frames: number): PromptKeyframe[] {
  const lines = text.split(/\r?\n/).map((raw, i) => ({ raw, n: i + 1 })).filter((l) => l.raw.trim() !== '');
  if (!lines.length) throw new KeyframeTextError(0, 'The prompt is empty: write a prompt first');
  if (!lines.some((l) => KEYFRAME_LINE.test(l.raw))) return [{ frame: 0, prompt: lines.map((l) => l.raw.trim()).join(' ') }];
  const seen = new Map<number, number>();
  const out: PromptKeyframe[] = [];
  for (const { raw, n } of lines) {
    const m = KEYFRAME_LINE.exec(raw);
    if (!m) throw new KeyframeTextError(n, `start it with a frame number and a colon, like "16: a flower" (got "${raw.trim().slice(0, 40)}")`);
    const frame = Number(m[1]);
    const prompt = m[2].trim();
    if (!Number.isSafeInteger(frame) || frame >= frames) {
      throw new KeyframeTextError(n, `frame ${m[1]} is out of range: the animation has frames 0 to ${frames - 1}`);
    }
    if (seen.has(frame)) throw new KeyframeTextError(n, `frame ${frame} already has a prompt (line ${seen.get(frame)})`);
    if (!prompt) throw new KeyframeTextError(n, `the prompt of frame ${frame} is empty`);
    seen.set(frame, n);
    out.push({ frame, prompt });
  }
  out.sort((a, b) => a.frame - b.frame);
  if (out[0].frame !== 0) throw new KeyframeTextError(seen.get(out[0].frame)!, `the first keyframe must be at frame 0 (the animation starts there), not ${out[0].frame}`);
  return out;
}

/** The editor text of keyframes: the prompt alone for one keyframe at frame 0, else one "frame: prompt" line each. */
export function formatKeyframes(prompts: readonly PromptKeyframe[]): string {
  if (prompts.length === 1 && prompts[0].frame === 0) return prompts[0].prompt;
  return prompts.map((k) => `${k.frame}: ${k.prompt}`).join('\n');
}
