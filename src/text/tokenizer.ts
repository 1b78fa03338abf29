// CLIP BPE tokenizer (SD1.5 text encoder) on @huggingface/tokenizers, loading the Hub's tokenizer.json
// (+ tokenizer_config.json). The library does the normalisation (NFC, whitespace collapse, lowercase),
// the CLIP split regex, byte-level BPE and the BOS/EOS post-processor. tokenizer.json carries no
// padding/truncation settings, so the SD1.5/diffusers convention is applied here:
//   [BOS] + first (maxLength − 2) BPE ids + [EOS], padded with the pad id (<|endoftext|> = 49407)
// — what transformers' CLIPTokenizer(padding="max_length", max_length=77, truncation=True) returns.
import { KindedError } from '../errors';
import { Tokenizer } from '@huggingface/tokenizers';

export interface ClipTokenization {
  /** `maxLength` ids: BOS, ≤ maxLength − 2 prompt ids, EOS, padding. */
  ids: Int32Array;
  /** BPE ids of the prompt before truncation (without BOS/EOS). */
  numPromptTokens: number;
  /** Whether prompt ids were dropped to fit. */
  truncated: boolean;
}

export interface ClipTokenizer {
  readonly maxLength: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  /** Prompt → exactly `maxLength` token ids (SD1.5 convention). */
  tokenize(prompt: string): Int32Array;
  /** Same, with the truncation facts (for telling the user their prompt was cut). */
  encode(prompt: string): ClipTokenization;
}

interface TokenizerConfig {
  bos_token?: string | { content: string };
  eos_token?: string | { content: string };
  pad_token?: string | { content: string };
  model_max_length?: number;
}

function tokenText(t: string | { content: string } | undefined, fallback: string): string {
  if (t === undefined) return fallback;
  return typeof t === 'string' ? t : t.content;
}

/** A tokenizer.json that is not a CLIP tokenizer (missing special tokens, no BOS/EOS post-processor). */
export class TokenizerError extends KindedError {
  constructor(message: string) {
    super('wrong-model', message);
  }
}

/**
 * `tokenizerJson`/`tokenizerConfig`: the parsed JSON files. `maxLength` defaults to the config's
 * `model_max_length` when it is a sane value (CLIP: 77), else 77.
 */
export function createClipTokenizer(tokenizerJson: object, tokenizerConfig: object = {}, opts: { maxLength?: number } = {}): ClipTokenizer {
  const cfg = tokenizerConfig as TokenizerConfig;
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(tokenizerJson, tokenizerConfig);
  } catch (e) {
    throw new TokenizerError(`CLIP tokenizer: tokenizer.json cannot be read as a tokenizer (${e instanceof Error ? e.message.slice(0, 200) : 'unknown error'})`);
  }
  const idOf = (text: string, role: string): number => {
    const id = tok.token_to_id(text);
    if (id === undefined) throw new TokenizerError(`CLIP tokenizer: the ${role} token '${text}' is not in tokenizer.json's vocabulary`);
    return id;
  };
  const bosId = idOf(tokenText(cfg.bos_token, '<|startoftext|>'), 'BOS');
  const eosId = idOf(tokenText(cfg.eos_token, '<|endoftext|>'), 'EOS');
  const padId = idOf(tokenText(cfg.pad_token, '<|endoftext|>'), 'pad');
  const configured = cfg.model_max_length;
  const maxLength = opts.maxLength ?? (configured && configured >= 3 && configured <= 4096 ? configured : 77);
  if (!Number.isInteger(maxLength) || maxLength < 3) throw new Error(`CLIP tokenizer: maxLength ${maxLength} must be an integer ≥ 3`);

  const encode = (prompt: string): ClipTokenization => {
    if (typeof prompt !== 'string') throw new Error(`CLIP tokenizer: prompt must be a string, got ${typeof prompt}`);
    const all = tok.encode(prompt).ids; // [BOS] + prompt ids + [EOS] from the post-processor
    if (all.length < 2 || all[0] !== bosId || all[all.length - 1] !== eosId) {
      throw new TokenizerError('CLIP tokenizer: tokenizer.json does not add BOS/EOS (expected a CLIP post-processor)');
    }
    const body = all.slice(1, -1);
    const keep = Math.min(body.length, maxLength - 2);
    const ids = new Int32Array(maxLength).fill(padId);
    ids[0] = bosId;
    for (let i = 0; i < keep; i++) ids[1 + i] = body[i];
    ids[1 + keep] = eosId;
    return { ids, numPromptTokens: body.length, truncated: keep < body.length };
  };
  return { maxLength, bosId, eosId, padId, encode, tokenize: (p) => encode(p).ids };
}
