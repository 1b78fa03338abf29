// CLIP tokenizer vs transformers' CLIPTokenizer (padding="max_length", max_length=77, truncation=True)
// on every prompt of the oracle set clip_tokenizer.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createClipTokenizer } from '../../src/text/tokenizer';
import { TOKENIZER, VECTORS as ORACLE_VECTORS } from '../oracle';

const TOK = TOKENIZER;
const TOKENIZER_VECTORS = `${ORACLE_VECTORS}/clip_tokenizer/vA/tokenizer_vectors.json`;

const tokenizerJson = JSON.parse(readFileSync(`${TOK}/tokenizer.json`, 'utf8'));
const tokenizerConfig = JSON.parse(readFileSync(`${TOK}/tokenizer_config.json`, 'utf8'));
const vectors = JSON.parse(readFileSync(TOKENIZER_VECTORS, 'utf8')) as {
  prompts: { prompt: string; sd_input_ids: number[]; hf_ids_untruncated: number[]; truncated: boolean }[];
};

describe('CLIP tokenizer', () => {
  const tok = createClipTokenizer(tokenizerJson, tokenizerConfig);

  it('reads the special ids and length from the config', () => {
    expect([tok.bosId, tok.eosId, tok.padId, tok.maxLength]).toEqual([49406, 49407, 49407, 77]);
  });

  it('has prompts to check, including truncated ones', () => {
    expect(vectors.prompts.length).toBeGreaterThan(0);
    expect(vectors.prompts.some((p) => p.truncated)).toBe(true);
  });

  for (const [i, p] of vectors.prompts.entries()) {
    it(`prompt ${i} ${JSON.stringify(p.prompt.slice(0, 40))}: sd_input_ids exactly`, () => {
      const enc = tok.encode(p.prompt);
      expect(Array.from(enc.ids)).toEqual(p.sd_input_ids);
      expect(enc.truncated).toBe(p.truncated);
      expect(enc.numPromptTokens).toBe(p.hf_ids_untruncated.length - 2);
    });
  }

  it('rejects a non-string prompt and a tokenizer without BOS in its vocabulary', () => {
    expect(() => tok.tokenize(42 as unknown as string)).toThrow(/prompt must be a string/);
    expect(() => createClipTokenizer(tokenizerJson, { ...tokenizerConfig, bos_token: '<|nope|>' })).toThrow(/BOS token '<\|nope\|>'/);
  });
});
