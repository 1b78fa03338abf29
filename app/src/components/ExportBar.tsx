import { useEffect, useState } from 'react';
import { exportFileName } from '../../../src/export/filename';
import { encodeGif } from '../../../src/export/gif';
import { encodePng, encodeSpriteSheet } from '../../../src/export/png';
import { encodeVideo, supportedVideoFormats, type VideoContainer } from '../../../src/export/video';
import { downloadBlob } from '../download';
import type { Result } from '../result';
import { firstPrompt } from '../../../src/pipeline/spec';

export interface ExportBarProps {
  result: Result | null;
  fps: number;
  loop: boolean;
  currentFrame(): number;
  disabled: boolean;
}

type Job = 'gif' | 'mp4' | 'webm' | 'sprite' | 'frame';

/** GIF (gif.js), MP4/WebM (WebCodecs + Mediabunny, where the browser can encode), PNG sprite sheet and single frame. */
export function ExportBar({ result, fps, loop, currentFrame, disabled }: ExportBarProps) {
  const [video, setVideo] = useState<VideoContainer[]>([]);
  const [job, setJob] = useState<{ kind: Job; progress: number } | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  // "Saved …" belongs to the animation it was saved from: a new result starts without it.
  useEffect(() => setMessage(null), [result]);

  useEffect(() => {
    if (!result) return;
    let live = true;
    supportedVideoFormats(result.width, result.height, fps).then((v) => live && setVideo(v), () => live && setVideo([]));
    return () => { live = false; };
  }, [result?.width, result?.height, fps]);

  if (!result) return null;
  const frames = result.frames as Uint8ClampedArray[];
  const { width, height } = result;
  const name = (ext: string, suffix?: string) => exportFileName(firstPrompt(result.spec), result.spec.seed, ext, suffix);

  const run = async (kind: Job, work: (progress: (p: number) => void) => Promise<{ blob: Blob; file: string }>) => {
    setJob({ kind, progress: 0 });
    setMessage(null);
    try {
      const { blob, file } = await work((p) => setJob({ kind, progress: p }));
      downloadBlob(blob, file);
      setMessage(`Saved ${file} (${Math.max(1, Math.round(blob.size / 1024))} KB).`);
    } catch (e) {
      setMessage(`Export failed: ${(e as Error).message}`);
    } finally {
      setJob(null);
    }
  };

  const busy = disabled || job !== null;
  const label = (kind: Job, text: string) => (job?.kind === kind ? `${text} ${Math.round(job.progress * 100)}%` : text);
  return (
    <div className="export" role="group" aria-label="Export">
      <span className="label">Export</span>
      <button type="button" disabled={busy} onClick={() => run('gif', async (p) => ({ blob: await encodeGif(frames, width, height, { fps, loop, onProgress: p }), file: name('gif') }))}>
        {label('gif', 'GIF')}
      </button>
      {(['mp4', 'webm'] as const).map((c) => (
        <button
          key={c}
          type="button"
          disabled={busy || !video.includes(c)}
          title={video.includes(c) ? undefined : `This browser cannot encode ${c.toUpperCase()} (WebCodecs)`}
          onClick={() => run(c, async (p) => ({ blob: await encodeVideo(frames, width, height, c, { fps, repeat: loop ? 3 : 1, onProgress: p }), file: name(c) }))}
        >
          {label(c, c === 'mp4' ? 'MP4' : 'WebM')}
        </button>
      ))}
      <button type="button" disabled={busy} onClick={() => run('sprite', async () => ({ blob: await encodeSpriteSheet(frames, width, height), file: name('png', 'sprite') }))}>
        {label('sprite', 'PNG sprite sheet')}
      </button>
      <button
        type="button"
        disabled={busy}
        onClick={() => {
          const i = Math.min(frames.length - 1, Math.max(0, currentFrame()));
          return run('frame', async () => ({ blob: await encodePng(frames[i], width, height), file: name('png', `frame${String(i + 1).padStart(2, '0')}`) }));
        }}
      >
        {label('frame', 'Current frame PNG')}
      </button>
      {message && <span className="hint" role="status">{message}</span>}
    </div>
  );
}
