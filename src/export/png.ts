// PNG export of frames: one frame, or all frames as a sprite sheet (a grid, left to right then top to bottom),
// encoded by the browser (OffscreenCanvas.convertToBlob), so it works in a window and in a worker.

export interface SpriteLayout {
  columns: number;
  rows: number;
  width: number;
  height: number;
}

/** A near-square grid for `count` frames of `width × height`: columns = ceil(sqrt(count)). */
export function spriteLayout(count: number, width: number, height: number): SpriteLayout {
  const columns = Math.ceil(Math.sqrt(count));
  const rows = Math.ceil(count / columns);
  return { columns, rows, width: columns * width, height: rows * height };
}

function checkFrame(rgba: Uint8ClampedArray, width: number, height: number, what: string): void {
  if (rgba.length !== width * height * 4) {
    throw new RangeError(`${what}: ${rgba.length} bytes, expected ${width}×${height}×4 = ${width * height * 4}`);
  }
}

/** One RGBA frame as a PNG. */
export async function encodePng(rgba: Uint8ClampedArray, width: number, height: number): Promise<Blob> {
  checkFrame(rgba, width, height, 'encodePng');
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('encodePng: no 2D canvas context');
  ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba), width, height), 0, 0);
  return canvas.convertToBlob({ type: 'image/png' });
}

/** All frames in one PNG sprite sheet laid out by `spriteLayout`. */
export async function encodeSpriteSheet(frames: readonly Uint8ClampedArray[], width: number, height: number): Promise<Blob> {
  if (frames.length === 0) throw new RangeError('encodeSpriteSheet: no frames');
  const layout = spriteLayout(frames.length, width, height);
  const canvas = new OffscreenCanvas(layout.width, layout.height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('encodeSpriteSheet: no 2D canvas context');
  frames.forEach((f, i) => {
    checkFrame(f, width, height, `encodeSpriteSheet frame ${i}`);
    ctx.putImageData(new ImageData(new Uint8ClampedArray(f), width, height), (i % layout.columns) * width, Math.floor(i / layout.columns) * height);
  });
  return canvas.convertToBlob({ type: 'image/png' });
}

/** Decodes a PNG (or any image the browser reads) back into RGBA: used to re-open history entries. */
export async function decodeImage(blob: Blob): Promise<{ rgba: Uint8ClampedArray; width: number; height: number }> {
  const bitmap = await createImageBitmap(blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('decodeImage: no 2D canvas context');
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return { rgba: ctx.getImageData(0, 0, canvas.width, canvas.height).data, width: canvas.width, height: canvas.height };
}
