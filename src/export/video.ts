// MP4 / WebM export: WebCodecs VideoEncoder (hardware where the browser has it) muxed by Mediabunny.
// Availability differs per browser and codec, so callers ask `supportedVideoFormats` first.

import {
  BufferTarget, canEncodeVideo, Mp4OutputFormat, Output, QUALITY_HIGH, VideoSample, VideoSampleSource, WebMOutputFormat,
  type VideoCodec,
} from 'mediabunny';

export type VideoContainer = 'mp4' | 'webm';

/** Codecs tried per container, most compatible first. */
const CODECS: Record<VideoContainer, VideoCodec[]> = {
  mp4: ['avc', 'vp9', 'av1'],
  webm: ['vp9', 'vp8', 'av1'],
};

/** The first codec this browser can encode at this size for the container, or null (no WebCodecs, or none fits). */
export async function videoCodecFor(container: VideoContainer, width: number, height: number, fps: number): Promise<VideoCodec | null> {
  if (typeof globalThis.VideoEncoder === 'undefined') return null;
  for (const codec of CODECS[container]) {
    try {
      if (await canEncodeVideo(codec, { width, height, frameRate: fps, quality: QUALITY_HIGH })) return codec;
    } catch {
      // an encoder probe that throws means "not supported" here
    }
  }
  return null;
}

/** The containers this browser can write at this size (empty without WebCodecs). */
export async function supportedVideoFormats(width: number, height: number, fps: number): Promise<VideoContainer[]> {
  const out: VideoContainer[] = [];
  for (const c of ['mp4', 'webm'] as const) if (await videoCodecFor(c, width, height, fps)) out.push(c);
  return out;
}

export interface VideoOptions {
  fps: number;
  /** Times the whole clip is repeated in the file (video players rarely loop on their own); default 1. */
  repeat?: number;
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
}

/** Encodes RGBA frames into an MP4 or WebM file. Throws when the browser cannot encode the container. */
export async function encodeVideo(
  frames: readonly Uint8ClampedArray[], width: number, height: number, container: VideoContainer, opts: VideoOptions,
): Promise<Blob> {
  if (frames.length === 0) throw new RangeError('encodeVideo: no frames to encode');
  if (width % 2 || height % 2) throw new RangeError(`encodeVideo: ${width}×${height} must have even sides for video codecs`);
  const codec = await videoCodecFor(container, width, height, opts.fps);
  if (!codec) throw new Error(`This browser cannot encode ${container.toUpperCase()} video (no WebCodecs encoder for it).`);
  const target = new BufferTarget();
  const output = new Output({ format: container === 'mp4' ? new Mp4OutputFormat({ fastStart: 'in-memory' }) : new WebMOutputFormat(), target });
  const source = new VideoSampleSource({ codec, quality: QUALITY_HIGH, keyFrameInterval: 2 });
  output.addVideoTrack(source, { frameRate: opts.fps });
  await output.start();
  const repeat = Math.max(1, Math.floor(opts.repeat ?? 1));
  const total = frames.length * repeat;
  const duration = 1 / opts.fps;
  try {
    for (let i = 0; i < total; i++) {
      if (opts.signal?.aborted) throw new DOMException('Video export cancelled', 'AbortError');
      const rgba = frames[i % frames.length];
      if (rgba.length !== width * height * 4) throw new RangeError(`encodeVideo: frame ${i % frames.length} has ${rgba.length} bytes, expected ${width * height * 4}`);
      const sample = new VideoSample(rgba, { format: 'RGBA', codedWidth: width, codedHeight: height, timestamp: i * duration, duration });
      try {
        await source.add(sample);
      } finally {
        sample.close();
      }
      opts.onProgress?.((i + 1) / total);
    }
    await output.finalize();
  } catch (e) {
    await output.cancel().catch(() => undefined);
    throw e;
  }
  const buffer = target.buffer;
  if (!buffer) throw new Error('encodeVideo: the muxer produced no data');
  return new Blob([buffer], { type: container === 'mp4' ? 'video/mp4' : 'video/webm' });
}
