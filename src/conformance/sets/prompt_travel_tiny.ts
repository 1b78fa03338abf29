// Runner for `prompt_travel_tiny` folders: FreeNoise with keyframe prompts ({frame: prompt}) and diffusers' default
// interpolation through the project's pipeline; see src/conformance/long-animation.ts.
import { longAnimationRunner } from '../long-animation';

export const runner = longAnimationRunner('prompt_travel_tiny');
