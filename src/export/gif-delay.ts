/** The per-frame delay in ms for `fps`, in whole centiseconds (the GIF unit), at least 2 cs (browsers slow down 0–1 cs). */
export function gifDelayMs(fps: number): number {
  return Math.max(2, Math.round(100 / fps)) * 10;
}
