import type { FrameSet } from './components/Viewer';
import type { GenerateSettings } from '../../src/worker/protocol';

/** A generated (or reopened) animation: its frames and what made them. */
export interface Result extends FrameSet {
  settings: GenerateSettings;
  models: string;
  elapsedMs: number | null;
  /** False while frames are still being decoded. */
  done: boolean;
}
