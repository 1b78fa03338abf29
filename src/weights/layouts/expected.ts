// What the canonical models expect: every key and its shape, generated from a config that is itself read off the
// weights (channel widths, layer counts, context width), so tiny test models and full SD1.5 go through the same
// checks. Topology = SD1.5 (diffusers UNet2DConditionModel / UNetMotionModel, AutoencoderKL, CLIPTextModel).

export type ShapeTable = Map<string, number[]>;

function pick(shapes: ReadonlyMap<string, readonly number[]>, key: string, what: string): readonly number[] {
  const s = shapes.get(key);
  if (!s) throw new MissingForConfig(key, what);
  return s;
}

/** A key needed to infer the configuration is absent (the loader reports it as a missing key). */
export class MissingForConfig extends Error {
  constructor(readonly key: string, what: string) {
    super(`cannot determine ${what}: "${key}" is missing`);
  }
}

function countIndexed(shapes: ReadonlyMap<string, unknown>, re: RegExp): number {
  let n = 0;
  for (const k of shapes.keys()) {
    const m = re.exec(k);
    if (m) n = Math.max(n, Number(m[1]) + 1);
  }
  return n;
}

// ---------------------------------------------------------------- UNet (spatial part)

export interface UnetConfig {
  inChannels: number;
  outChannels: number;
  blockOutChannels: number[];
  layersPerBlock: number;
  /** Per down block: has cross-attention transformers (SD1.5: [true, true, true, false]). */
  downHasAttention: boolean[];
  /** Per up block (SD1.5: [false, true, true, true]). */
  upHasAttention: boolean[];
  transformerLayersPerBlock: number;
  crossAttentionDim: number;
  /** Sinusoidal timestep channels (= block_out_channels[0] in SD1.5) and the time-embedding width (4×). */
  timestepChannels: number;
  timeEmbedDim: number;
}

export function inferUnetConfig(shapes: ReadonlyMap<string, readonly number[]>): UnetConfig {
  const nDown = countIndexed(shapes, /^down_blocks\.(\d+)\.resnets\.0\.conv1\.weight$/);
  const nUp = countIndexed(shapes, /^up_blocks\.(\d+)\.resnets\.0\.conv1\.weight$/);
  if (nDown === 0) throw new MissingForConfig('down_blocks.0.resnets.0.conv1.weight', 'the UNet block widths');
  const blockOutChannels = Array.from({ length: nDown }, (_, i) => pick(shapes, `down_blocks.${i}.resnets.0.conv1.weight`, 'the UNet block widths')[0]);
  const layersPerBlock = countIndexed(shapes, /^down_blocks\.0\.resnets\.(\d+)\.conv1\.weight$/);
  const downHasAttention = Array.from({ length: nDown }, (_, i) => shapes.has(`down_blocks.${i}.attentions.0.proj_in.weight`));
  const upHasAttention = Array.from({ length: Math.max(nUp, nDown) }, (_, i) => shapes.has(`up_blocks.${i}.attentions.0.proj_in.weight`));
  let crossAttentionDim = 0, transformerLayersPerBlock = 1;
  for (const [k, s] of shapes) {
    if (!crossAttentionDim && /^(down_blocks|up_blocks|mid_block)\.(\d+\.)?attentions\.\d+\.transformer_blocks\.\d+\.attn2\.to_k\.weight$/.test(k)) crossAttentionDim = s[1];
  }
  transformerLayersPerBlock = Math.max(1, countIndexed(shapes, /^(?:down_blocks\.\d+|up_blocks\.\d+|mid_block)\.attentions\.\d+\.transformer_blocks\.(\d+)\./));
  const lin1 = pick(shapes, 'time_embedding.linear_1.weight', 'the time-embedding width');
  return {
    inChannels: pick(shapes, 'conv_in.weight', 'the input channels')[1],
    outChannels: pick(shapes, 'conv_out.weight', 'the output channels')[0],
    blockOutChannels,
    layersPerBlock,
    downHasAttention,
    upHasAttention,
    transformerLayersPerBlock,
    crossAttentionDim,
    timestepChannels: lin1[1],
    timeEmbedDim: lin1[0],
  };
}

function addLinear(t: ShapeTable, p: string, out: number, inp: number, bias = true) {
  t.set(`${p}.weight`, [out, inp]);
  if (bias) t.set(`${p}.bias`, [out]);
}
function addConv(t: ShapeTable, p: string, out: number, inp: number, k: number) {
  t.set(`${p}.weight`, [out, inp, k, k]);
  t.set(`${p}.bias`, [out]);
}
function addNorm(t: ShapeTable, p: string, c: number) {
  t.set(`${p}.weight`, [c]);
  t.set(`${p}.bias`, [c]);
}

function addUnetResnet(t: ShapeTable, p: string, cin: number, cout: number, temb: number) {
  addNorm(t, `${p}.norm1`, cin);
  addConv(t, `${p}.conv1`, cout, cin, 3);
  addLinear(t, `${p}.time_emb_proj`, cout, temb);
  addNorm(t, `${p}.norm2`, cout);
  addConv(t, `${p}.conv2`, cout, cout, 3);
  if (cin !== cout) addConv(t, `${p}.conv_shortcut`, cout, cin, 1);
}

/** Spatial transformer (Transformer2DModel, SD1.5: 1×1-conv proj_in/proj_out, GEGLU FF of 4C). */
function addSpatialTransformer(t: ShapeTable, p: string, c: number, ctx: number, layers: number) {
  addNorm(t, `${p}.norm`, c);
  addConv(t, `${p}.proj_in`, c, c, 1);
  for (let b = 0; b < layers; b++) {
    const q = `${p}.transformer_blocks.${b}`;
    for (const a of ['attn1', 'attn2']) {
      const kv = a === 'attn1' ? c : ctx;
      addLinear(t, `${q}.${a}.to_q`, c, c, false);
      addLinear(t, `${q}.${a}.to_k`, c, kv, false);
      addLinear(t, `${q}.${a}.to_v`, c, kv, false);
      addLinear(t, `${q}.${a}.to_out.0`, c, c);
    }
    for (const n of ['norm1', 'norm2', 'norm3']) addNorm(t, `${q}.${n}`, c);
    addLinear(t, `${q}.ff.net.0.proj`, 8 * c, c);
    addLinear(t, `${q}.ff.net.2`, c, 4 * c);
  }
  addConv(t, `${p}.proj_out`, c, c, 1);
}

/** Every key of the spatial UNet with its shape (diffusers UNet2DConditionModel, SD1.5 topology). */
export function expectedUnetShapes(cfg: UnetConfig): ShapeTable {
  const t: ShapeTable = new Map();
  const ch = cfg.blockOutChannels, n = ch.length, L = cfg.layersPerBlock, temb = cfg.timeEmbedDim;
  addConv(t, 'conv_in', ch[0], cfg.inChannels, 3);
  addLinear(t, 'time_embedding.linear_1', temb, cfg.timestepChannels);
  addLinear(t, 'time_embedding.linear_2', temb, temb);
  for (let i = 0; i < n; i++) {
    const cin0 = i === 0 ? ch[0] : ch[i - 1];
    for (let l = 0; l < L; l++) {
      addUnetResnet(t, `down_blocks.${i}.resnets.${l}`, l === 0 ? cin0 : ch[i], ch[i], temb);
      if (cfg.downHasAttention[i]) addSpatialTransformer(t, `down_blocks.${i}.attentions.${l}`, ch[i], cfg.crossAttentionDim, cfg.transformerLayersPerBlock);
    }
    if (i < n - 1) addConv(t, `down_blocks.${i}.downsamplers.0.conv`, ch[i], ch[i], 3);
  }
  const cm = ch[n - 1];
  addUnetResnet(t, 'mid_block.resnets.0', cm, cm, temb);
  addSpatialTransformer(t, 'mid_block.attentions.0', cm, cfg.crossAttentionDim, cfg.transformerLayersPerBlock);
  addUnetResnet(t, 'mid_block.resnets.1', cm, cm, temb);
  const rev = [...ch].reverse();
  for (let i = 0; i < n; i++) {
    const prevOut = i === 0 ? rev[0] : rev[i - 1];
    const out = rev[i];
    const inp = rev[Math.min(i + 1, n - 1)];
    for (let l = 0; l <= L; l++) {
      const skip = l === L ? inp : out;
      const resIn = l === 0 ? prevOut : out;
      addUnetResnet(t, `up_blocks.${i}.resnets.${l}`, resIn + skip, out, temb);
      if (cfg.upHasAttention[i]) addSpatialTransformer(t, `up_blocks.${i}.attentions.${l}`, out, cfg.crossAttentionDim, cfg.transformerLayersPerBlock);
    }
    if (i < n - 1) addConv(t, `up_blocks.${i}.upsamplers.0.conv`, out, out, 3);
  }
  addNorm(t, 'conv_norm_out', ch[0]);
  addConv(t, 'conv_out', cfg.outChannels, ch[0], 3);
  return t;
}

// ---------------------------------------------------------------- motion modules

export interface MotionConfig {
  /** Module width per down block (= the UNet block width). */
  blockOutChannels: number[];
  /** Modules per down block (up blocks have one more). */
  layersPerBlock: number;
  transformerLayers: number;
  hasMidBlock: boolean;
  /** Stored positional table length, or null. */
  peLength: number | null;
}

export function inferMotionConfig(shapes: ReadonlyMap<string, readonly number[]>): MotionConfig {
  const nDown = countIndexed(shapes, /^down_blocks\.(\d+)\.motion_modules\.\d+\.proj_in\.weight$/);
  if (nDown === 0) throw new MissingForConfig('down_blocks.0.motion_modules.0.proj_in.weight', 'the motion-module widths');
  const blockOutChannels = Array.from({ length: nDown }, (_, i) => pick(shapes, `down_blocks.${i}.motion_modules.0.proj_in.weight`, 'the motion-module widths')[0]);
  let peLength: number | null = null;
  for (const [k, s] of shapes) if (peLength === null && k.endsWith('.pos_embed.pe')) peLength = s[1];
  return {
    blockOutChannels,
    layersPerBlock: countIndexed(shapes, /^down_blocks\.0\.motion_modules\.(\d+)\.proj_in\.weight$/),
    transformerLayers: countIndexed(shapes, /^(?:down_blocks\.\d+\.|up_blocks\.\d+\.|mid_block\.)?motion_modules\.\d+\.transformer_blocks\.(\d+)\./) ||
      countIndexed(shapes, /^transformer_blocks\.(\d+)\./),
    hasMidBlock: shapes.has('mid_block.motion_modules.0.proj_in.weight'),
    peLength,
  };
}

/** One AnimateDiffTransformer3D (module-relative names under prefix p, "" for a standalone module). */
export function addMotionModule(t: ShapeTable, p: string, c: number, layers: number, peLength: number | null) {
  addNorm(t, `${p}norm`, c);
  addLinear(t, `${p}proj_in`, c, c);
  for (let b = 0; b < layers; b++) {
    const q = `${p}transformer_blocks.${b}`;
    for (const a of ['attn1', 'attn2']) {
      for (const w of ['to_q', 'to_k', 'to_v']) addLinear(t, `${q}.${a}.${w}`, c, c, false);
      addLinear(t, `${q}.${a}.to_out.0`, c, c);
    }
    for (const n of ['norm1', 'norm2', 'norm3']) addNorm(t, `${q}.${n}`, c);
    addLinear(t, `${q}.ff.net.0.proj`, 8 * c, c);
    addLinear(t, `${q}.ff.net.2`, c, 4 * c);
    if (peLength !== null) t.set(`${q}.pos_embed.pe`, [1, peLength, c]);
  }
  addLinear(t, `${p}proj_out`, c, c);
}

/** Every motion-module key of a MotionAdapter (= the motion part of UNetMotionModel). */
export function expectedMotionShapes(cfg: MotionConfig): ShapeTable {
  const t: ShapeTable = new Map();
  const ch = cfg.blockOutChannels, n = ch.length;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < cfg.layersPerBlock; j++) addMotionModule(t, `down_blocks.${i}.motion_modules.${j}.`, ch[i], cfg.transformerLayers, cfg.peLength);
  }
  if (cfg.hasMidBlock) addMotionModule(t, 'mid_block.motion_modules.0.', ch[n - 1], cfg.transformerLayers, cfg.peLength);
  const rev = [...ch].reverse();
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= cfg.layersPerBlock; j++) addMotionModule(t, `up_blocks.${i}.motion_modules.${j}.`, rev[i], cfg.transformerLayers, cfg.peLength);
  }
  return t;
}

// ---------------------------------------------------------------- VAE

export interface VaeConfig {
  latentChannels: number;
  outChannels: number;
  blockOutChannels: number[];
  layersPerBlock: number;
  /** The encoder is optional (text-to-video only decodes); shapes are checked when it is present. */
  hasEncoder: boolean;
}

export function inferVaeConfig(shapes: ReadonlyMap<string, readonly number[]>): VaeConfig {
  const nUp = countIndexed(shapes, /^decoder\.up_blocks\.(\d+)\.resnets\.0\.conv1\.weight$/);
  if (nUp === 0) throw new MissingForConfig('decoder.up_blocks.0.resnets.0.conv1.weight', 'the VAE decoder widths');
  // decoder.up_blocks.i outputs reversed[i]
  const rev = Array.from({ length: nUp }, (_, i) => pick(shapes, `decoder.up_blocks.${i}.resnets.0.conv1.weight`, 'the VAE decoder widths')[0]);
  const postQuant = pick(shapes, 'decoder.conv_in.weight', 'the latent channels');
  return {
    latentChannels: postQuant[1],
    outChannels: pick(shapes, 'decoder.conv_out.weight', 'the image channels')[0],
    blockOutChannels: rev.reverse(),
    layersPerBlock: countIndexed(shapes, /^decoder\.up_blocks\.0\.resnets\.(\d+)\.conv1\.weight$/) - 1,
    hasEncoder: [...shapes.keys()].some((k) => k.startsWith('encoder.') || k.startsWith('quant_conv.')),
  };
}

function addVaeResnet(t: ShapeTable, p: string, cin: number, cout: number) {
  addNorm(t, `${p}.norm1`, cin);
  addConv(t, `${p}.conv1`, cout, cin, 3);
  addNorm(t, `${p}.norm2`, cout);
  addConv(t, `${p}.conv2`, cout, cout, 3);
  if (cin !== cout) addConv(t, `${p}.conv_shortcut`, cout, cin, 1);
}
function addVaeMid(t: ShapeTable, p: string, c: number) {
  addVaeResnet(t, `${p}.mid_block.resnets.0`, c, c);
  addNorm(t, `${p}.mid_block.attentions.0.group_norm`, c);
  for (const w of ['to_q', 'to_k', 'to_v', 'to_out.0']) addLinear(t, `${p}.mid_block.attentions.0.${w}`, c, c);
  addVaeResnet(t, `${p}.mid_block.resnets.1`, c, c);
}

export function expectedVaeShapes(cfg: VaeConfig): ShapeTable {
  const t: ShapeTable = new Map();
  const ch = cfg.blockOutChannels, n = ch.length, z = cfg.latentChannels, L = cfg.layersPerBlock;
  const rev = [...ch].reverse();
  addConv(t, 'post_quant_conv', z, z, 1);
  addConv(t, 'decoder.conv_in', rev[0], z, 3);
  addVaeMid(t, 'decoder', rev[0]);
  for (let i = 0; i < n; i++) {
    const cin = i === 0 ? rev[0] : rev[i - 1];
    for (let l = 0; l <= L; l++) addVaeResnet(t, `decoder.up_blocks.${i}.resnets.${l}`, l === 0 ? cin : rev[i], rev[i]);
    if (i < n - 1) addConv(t, `decoder.up_blocks.${i}.upsamplers.0.conv`, rev[i], rev[i], 3);
  }
  addNorm(t, 'decoder.conv_norm_out', ch[0]);
  addConv(t, 'decoder.conv_out', cfg.outChannels, ch[0], 3);
  if (cfg.hasEncoder) {
    addConv(t, 'quant_conv', 2 * z, 2 * z, 1);
    addConv(t, 'encoder.conv_in', ch[0], cfg.outChannels, 3);
    for (let i = 0; i < n; i++) {
      const cin = i === 0 ? ch[0] : ch[i - 1];
      for (let l = 0; l < L; l++) addVaeResnet(t, `encoder.down_blocks.${i}.resnets.${l}`, l === 0 ? cin : ch[i], ch[i]);
      if (i < n - 1) addConv(t, `encoder.down_blocks.${i}.downsamplers.0.conv`, ch[i], ch[i], 3);
    }
    addVaeMid(t, 'encoder', ch[n - 1]);
    addNorm(t, 'encoder.conv_norm_out', ch[n - 1]);
    addConv(t, 'encoder.conv_out', 2 * z, ch[n - 1], 3);
  }
  return t;
}

// ---------------------------------------------------------------- CLIP text encoder

export interface TextConfig {
  vocabSize: number;
  maxPositions: number;
  width: number;
  intermediate: number;
  layers: number;
}

export function inferTextConfig(shapes: ReadonlyMap<string, readonly number[]>): TextConfig {
  const tok = pick(shapes, 'text_model.embeddings.token_embedding.weight', 'the text width');
  return {
    vocabSize: tok[0],
    width: tok[1],
    maxPositions: pick(shapes, 'text_model.embeddings.position_embedding.weight', 'the text length')[0],
    intermediate: pick(shapes, 'text_model.encoder.layers.0.mlp.fc1.weight', 'the MLP width')[0],
    layers: countIndexed(shapes, /^text_model\.encoder\.layers\.(\d+)\./),
  };
}

export function expectedTextShapes(cfg: TextConfig): ShapeTable {
  const t: ShapeTable = new Map();
  const d = cfg.width;
  t.set('text_model.embeddings.token_embedding.weight', [cfg.vocabSize, d]);
  t.set('text_model.embeddings.position_embedding.weight', [cfg.maxPositions, d]);
  for (let l = 0; l < cfg.layers; l++) {
    const p = `text_model.encoder.layers.${l}`;
    for (const w of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) addLinear(t, `${p}.self_attn.${w}`, d, d);
    addNorm(t, `${p}.layer_norm1`, d);
    addNorm(t, `${p}.layer_norm2`, d);
    addLinear(t, `${p}.mlp.fc1`, cfg.intermediate, d);
    addLinear(t, `${p}.mlp.fc2`, d, cfg.intermediate);
  }
  addNorm(t, 'text_model.final_layer_norm', d);
  return t;
}
