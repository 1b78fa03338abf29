// Public API of the weight loaders (see docs/weights.md).
export { WeightFileError, type WeightFileErrorCode } from './errors';
export { blobSource, bytesSource, openUrlSource, opfsSource, type ByteSource, type UrlSourceOptions } from './source';
export { openSafetensors, openSafetensorsBytes, writeSafetensors, looksLikePickle, type SafetensorsFile, type TensorInfo, type TensorToWrite } from './safetensors';
export type { Dtype } from './dtype';
export { detectLayout, loadWeights, checkAgainst, type DetectedLayout, type LoadedWeights, type LoadOptions, type LoraRequest, type WeightKind } from './load';
export { parseLora, mergeLora, applyLoraDelta, type LoraFile, type LoraPair, type MergeResult } from './lora';
export { detectMotionVersion, type MotionModuleInfo, type MotionVersion } from './layouts/motion';
export type { UnetConfig, MotionConfig, VaeConfig, TextConfig } from './layouts/expected';
export { tableWeightMap, type WeightMap } from './weight-map';
