// Types for the parts of gif.js 0.2.0 (jnordberg/gif.js, no bundled types) that src/export/gif.ts uses.
declare module 'gif.js/dist/gif.js' {
  interface GIFOptions {
    workers?: number;
    quality?: number;
    width?: number;
    height?: number;
    workerScript?: string;
    repeat?: number;
    background?: string;
    transparent?: string | null;
    dither?: false | 'FloydSteinberg' | 'FalseFloydSteinberg' | 'Stucki' | 'Atkinson' | `${string}-serpentine`;
    debug?: boolean;
  }
  interface FrameOptions { delay?: number; copy?: boolean; dispose?: number }
  export default class GIF {
    constructor(options: GIFOptions);
    addFrame(image: ImageData | CanvasRenderingContext2D | HTMLCanvasElement | HTMLImageElement, options?: FrameOptions): void;
    on(event: 'finished', cb: (blob: Blob, data: Uint8Array) => void): void;
    on(event: 'progress', cb: (fraction: number) => void): void;
    on(event: 'abort' | 'start', cb: () => void): void;
    render(): void;
    abort(): void;
    running: boolean;
  }
}
