import { describe, expect, it } from 'vitest';
import { describeError } from '../../src/worker/errors';
import { ModelSourceError, namesHubFile, parseModelSource, resolveModelSource } from '../../src/sources/model-source';

function refusal(input: string): ModelSourceError {
  try {
    parseModelSource(input, 'motion module');
  } catch (e) {
    expect(e).toBeInstanceOf(ModelSourceError);
    return e as ModelSourceError;
  }
  throw new Error(`"${input}" was accepted`);
}

describe('model sources typed by the user', () => {
  it('reads https URLs, naming the file by its decoded last segment', () => {
    expect(parseModelSource('  https://example.com/models/mm%20v2.safetensors?download=1 ')).toEqual({ kind: 'url', url: 'https://example.com/models/mm%20v2.safetensors?download=1', name: 'mm v2.safetensors' });
    // A Hub page URL becomes the file's download URL.
    expect(parseModelSource('https://huggingface.co/guoyww/animatediff-motion-adapter-v1-5-2/blob/main/diffusion_pytorch_model.safetensors')).toEqual({
      kind: 'url', url: 'https://huggingface.co/guoyww/animatediff-motion-adapter-v1-5-2/resolve/main/diffusion_pytorch_model.safetensors', name: 'diffusion_pytorch_model.safetensors',
    });
    // Plain http only for this machine (a local server, the e2e server).
    expect(parseModelSource('http://127.0.0.1:4173/tiny-model/x.safetensors').kind).toBe('url');
    expect(parseModelSource('http://localhost/x.safetensors').kind).toBe('url');
  });

  it('reads Hugging Face repositories as owner/name, with an optional file path', () => {
    expect(parseModelSource('guoyww/animatediff-motion-adapter-v1-5-2')).toEqual({ kind: 'hub', repo: 'guoyww/animatediff-motion-adapter-v1-5-2' });
    const s = parseModelSource('stable-diffusion-v1-5/stable-diffusion-v1-5/unet/diffusion_pytorch_model.fp16.safetensors');
    expect(s).toEqual({ kind: 'hub', repo: 'stable-diffusion-v1-5/stable-diffusion-v1-5', path: 'unet/diffusion_pytorch_model.fp16.safetensors' });
    expect(resolveModelSource(s)).toEqual({
      url: 'https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5/resolve/main/unet/diffusion_pytorch_model.fp16.safetensors',
      name: 'stable-diffusion-v1-5/stable-diffusion-v1-5/unet/diffusion_pytorch_model.fp16.safetensors',
    });
    expect(() => resolveModelSource(parseModelSource('owner/name'), 'motion module')).toThrow(/owner\/name.*Hugging Face repository.*path/);
  });

  it('says a malformed URL is not a valid https URL', () => {
    for (const input of ['htp:/not a url', 'http://example.com/x.safetensors', 'ftp://example.com/x.safetensors', 'file:///etc/passwd', 'javascript:alert(1)', 'https://', 'https://exa mple.com/x']) {
      expect(refusal(input).message).toMatch(/is not a valid https URL for the motion module/);
    }
    expect(refusal('https://example.com/').message).toMatch(/names no file/);
  });

  it('never reads free text or a bare path as a file on the app\'s own site', () => {
    for (const input of ['hello world', 'hello', '/tiny-model/unet.safetensors', './x.safetensors', 'www.example.com/x.safetensors', 'a/b/../c']) {
      expect(refusal(input).message).not.toMatch(/^Could not/);
    }
    expect(refusal('hello world').message).toBe('"hello world" is not a model source for the motion module: enter a https:// URL of a .safetensors file or a Hugging Face repository as owner/name.');
    expect(refusal('').message).toBe('Enter the URL of the motion module, or pick a preset.');
  });

  it('names a bare % instead of letting URIError escape', () => {
    for (const input of ['https://example.com/100%.safetensors', 'https://example.com/a%zz/x.safetensors', 'owner/name/50%.safetensors']) {
      expect(refusal(input).message).toMatch(/"%" that is not followed by two hexadecimal digits/);
    }
  });

  it('is reported to the user as an invalid source, with what to enter', () => {
    const u = describeError(refusal('htp:/not a url'));
    expect(u.kind).toBe('invalid-source');
    expect(u.message).toMatch(/not a valid https URL/);
    expect(u.suggestion).toMatch(/https:\/\/ URL.*owner\/name/);
  });

  it('reads revisions, folders and Hub repo/folder URLs (model delivery picks the files)', () => {
    expect(parseModelSource('a/b@v1.0/unet')).toEqual({ kind: 'hub', repo: 'a/b', revision: 'v1.0', path: 'unet' });
    expect(namesHubFile(parseModelSource('a/b/unet'))).toBe(false);
    expect(namesHubFile(parseModelSource('a/b/unet/x.safetensors'))).toBe(true);
    expect(parseModelSource('https://huggingface.co/a/b')).toEqual({ kind: 'hub', repo: 'a/b' });
    expect(parseModelSource('https://huggingface.co/a/b/tree/dev/vae')).toEqual({ kind: 'hub', repo: 'a/b', revision: 'dev', path: 'vae' });
    expect(parseModelSource('http://127.0.0.1:9/o/r/tree/main', 'base model', 'http://127.0.0.1:9')).toEqual({ kind: 'hub', repo: 'o/r', revision: 'main' });
    expect(resolveModelSource(parseModelSource('a/b@c0ffee/m.safetensors')).url).toBe('https://huggingface.co/a/b/resolve/c0ffee/m.safetensors');
    expect(refusal('a/b@bad rev').message).toMatch(/not a model source/);
  });
});
