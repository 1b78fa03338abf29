import type { FrameSet } from './components/Viewer';
import type { GenerationSpec } from '../../src/pipeline/spec';

/** A generated (or reopened) animation: its frames and what made them. */
export interface Result extends FrameSet {
  spec: GenerationSpec;
  models: string;
  elapsedMs: number | null;
  /** False while frames are still being decoded. */
  done: boolean;
}
