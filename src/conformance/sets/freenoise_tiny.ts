// Runner for `freenoise_tiny` folders: diffusers' AnimateDiffPipeline with enable_free_noise (one prompt, runs
// `pyramid`, `flat`, `pyramid_tail`) through the project's pipeline; see src/conformance/long-animation.ts.
import { longAnimationRunner } from '../long-animation';

export const runner = longAnimationRunner('freenoise_tiny');
