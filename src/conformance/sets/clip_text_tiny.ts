// Runner for `clip_text_tiny` folders: transformers CLIPTextModel (src/text, ONNX Runtime) on `input_ids` (b, 77).
// last_hidden_state (clip_skip 0), penultimate_final_ln (diffusers clip_skip=1: final LayerNorm of hidden_states[-2])
// and pooler_output (last_hidden_state at argmax(input_ids), the legacy eos_token_id == 2 path).
import { createClipTextEncoder } from '../../text/clip-encoder';
import { ConformanceError, layoutsPresent, type RunContext, type RunOutputs, type SetRunner, type VectorConfig } from '../registry';

export const runner: SetRunner = {
  name: 'clip_text_tiny',
  matches: (config: VectorConfig) => config.set === 'clip_text_tiny',
  layouts: (_config, files) => layoutsPresent(files, [
    { name: 'transformers', files: ['text_encoder_transformers.safetensors'] },
    { name: 'ldm', files: ['text_encoder_ldm.safetensors'] },
  ], 'text encoder'),
  // Per-layer hidden states are not exposed by the encoder graph.
  notProduced: () => [/^hidden_states\./],

  async run(ctx: RunContext): Promise<RunOutputs> {
    const { config, inputs } = ctx;
    const ids = inputs.get('input_ids');
    if (!ids || ids.shape.length !== 2) throw new ConformanceError(`${ctx.dir}: inputs.safetensors needs input_ids (b, tokens)`);
    const tc = config.text_config;
    if (!tc) throw new ConformanceError(`${ctx.dir}: config.json has no text_config`);
    const [b, L] = ids.shape;
    const idArr = Int32Array.from(ids.data);
    const weights = await ctx.loadWeights(ctx.layout.files);
    const opts = { heads: tc.num_attention_heads, hiddenAct: tc.hidden_act, layerNormEps: tc.layer_norm_eps };
    const out: RunOutputs = new Map();
    const want = (n: string) => ctx.wanted.includes(n);
    if (want('last_hidden_state') || want('pooler_output')) {
      const enc = await createClipTextEncoder(weights, { ...opts, clipSkip: 0 });
      try {
        const last = await enc.encode(idArr, b);
        const D = last.length / (b * L);
        if (want('last_hidden_state')) out.set('last_hidden_state', last);
        if (want('pooler_output')) {
          const pooled = new Float32Array(b * D);
          for (let i = 0; i < b; i++) {
            let at = 0;
            for (let j = 1; j < L; j++) if (idArr[i * L + j] > idArr[i * L + at]) at = j; // first maximum, as torch.argmax
            pooled.set(last.subarray((i * L + at) * D, (i * L + at + 1) * D), i * D);
          }
          out.set('pooler_output', pooled);
        }
      } finally {
        await enc.dispose();
      }
    }
    if (want('penultimate_final_ln')) {
      const enc = await createClipTextEncoder(weights, { ...opts, clipSkip: 1 });
      try {
        out.set('penultimate_final_ln', await enc.encode(idArr, b));
      } finally {
        await enc.dispose();
      }
    }
    return out;
  },
};
