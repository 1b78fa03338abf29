// What the user reads for each kind of failure (src/errors.ts). Switches on the shared `kind` (and, for files, the
// HTTP status and the weight-file code), never on error classes or message text: the worker knows no layer's classes.

import { type ErrorFacts, type ErrorKind, factsOf } from '../errors';
import type { UserError } from './protocol';

const SMALLER = 'Try a smaller size (256×256 or 384×384), fewer frames, or close other tabs that use the GPU.';
const SAFETENSORS = 'Use the .safetensors version of this model (most Hugging Face and Civitai models offer one).';

/** What to try after a failed download, by the delivery code (src/delivery/errors.ts); its message is complete. */
const DELIVERY_SUGGESTION: Record<string, string> = {
  offline: 'Connect to the internet and press Generate again: the download resumes where it stopped.',
  network: 'Press Generate again: the download resumes where it stopped.',
  cors: 'Download the file in the browser and open it from disk.',
  'not-found': 'Check the repository (owner/name), the revision and the file name.',
  'access-denied': 'Open the model page on huggingface.co, accept its terms or ask for access, then download the files there and open them from disk.',
  corrupt: 'Press Generate again to download it once more; if it keeps failing, the file on the server is broken.',
  'upstream-changed': 'Open Storage and delete this model to download the new version.',
  'no-range': 'Download the file and open it from disk instead.',
};

/** The headline of a failed download: the HTTP status in words where there is one. */
function downloadHeadline(f: ErrorFacts, file: string): Pick<UserError, 'message' | 'suggestion'> {
  if (f.name === 'DeliveryError' && f.code) {
    return { message: `Could not download ${f.message}`.replace(/([^.])$/, '$1.'), suggestion: DELIVERY_SUGGESTION[f.code ?? ''] ?? 'Try again later, or download the file and open it from disk.' };
  }
  const s = f.httpStatus;
  if (s === 404) return { message: `Could not download ${file}: not found (HTTP 404).`, suggestion: 'Check the URL: the repository, the branch and the file name must exist.' };
  if (s === 401 || s === 403) return { message: `Could not download ${file}: access denied (HTTP ${s}).`, suggestion: 'The file may be gated or private: download it in the browser (after accepting its terms) and open it from disk.' };
  if (s === 416) return { message: `Could not download ${file}: the server refused the byte range (HTTP 416).`, suggestion: 'The file on the server is smaller than expected; download it again, or open it from disk.' };
  if (s !== undefined) return { message: `Could not download ${file}: the server answered HTTP ${s}.`, suggestion: 'Try again later, or download the file and open it from disk.' };
  if (f.code === 'no-range') return { message: `The server of ${file} does not support partial downloads (HTTP Range).`, suggestion: 'Download the file and open it from disk instead.' };
  return { message: `Could not read ${file}.`, suggestion: 'Check the URL and your connection, or download the file and open it from disk.' };
}

const HEADLINES: Record<ErrorKind, (f: ErrorFacts, file: string) => Pick<UserError, 'message' | 'suggestion'>> = {
  'no-webgpu': (f) => ({ message: f.message, suggestion: 'Use a recent Chrome or Edge (or Safari 26+) with hardware acceleration turned on.' }),
  capability: (f) => ({ message: f.message, suggestion: 'Try f32 precision, a smaller size or fewer frames.' }),
  'out-of-memory': (f) => ({ message: f.name === 'QuotaExceededError' ? 'The browser ran out of memory or storage.' : 'The GPU ran out of memory.', suggestion: SMALLER }),
  'device-lost': () => ({ message: 'The GPU device was lost (a driver reset, or the system reclaimed GPU memory).', suggestion: `Press Generate to start again on a fresh device. ${SMALLER}` }),
  'gpu-bug': () => ({ message: 'The GPU rejected a computation; this is a bug in AnimateDiff Web.', suggestion: 'Please report it with the details below. Generate again to retry on a fresh device.' }),
  network: downloadHeadline,
  storage: (f) => ({ message: f.message.replace(/([^.])$/, '$1.'), suggestion: 'Open Storage to delete models you do not need; browsers grant each site a share of the free disk space.' }),
  'not-safetensors': (f, file) => (f.code === 'pickle'
    ? { message: `${file} is a PyTorch pickle (.ckpt/.pt/.bin); only .safetensors files are opened, because pickles can run code.`, suggestion: SAFETENSORS }
    : { message: `${file} is not a .safetensors file, and only .safetensors files are opened (.ckpt/.pt/.bin files are PyTorch pickles, which can run code).`, suggestion: SAFETENSORS }),
  'corrupt-file': (_, file) => ({ message: `${file} is not a valid ${/\.json$/i.test(file) ? 'JSON' : '.safetensors'} file (it is corrupt or truncated).`, suggestion: 'Download the file again, or pick another one.' }),
  // Without a file to name, the error's own words (which name the component) are the headline.
  'wrong-model': (f, file) => ({ message: f.file ? `${file} is not a model this app can use here (not an SD1.5 / AnimateDiff file of the expected kind).` : f.message, suggestion: 'Check that the file goes in this slot: base model, motion module or LoRA.' }),
  'model-mismatch': (f, file) => ({ message: f.file ? `${file} does not match the rest of the model.` : f.message, suggestion: 'Use files made for Stable Diffusion 1.5 and the chosen motion module, each in its own slot.' }),
  'unsupported-model': (f) => ({ message: f.message, suggestion: 'Use a text-to-image Stable Diffusion 1.5 model.' }),
  'bad-values': (f) => ({ message: f.message, suggestion: 'The file is damaged or was saved wrongly: download it again, or use another one.' }),
  'invalid-source': (f) => ({ message: f.message, suggestion: 'Enter a https:// URL of a .safetensors file, a Hugging Face repository (owner/name), or choose a file from disk.' }),
  'invalid-settings': (f) => ({ message: f.code === 'request' ? `These settings cannot run: ${f.message}.` : f.message }),
  cancelled: () => ({ message: 'Cancelled.' }),
  internal: () => ({ message: 'Something went wrong.', suggestion: 'Generate again; if it keeps failing, please report it with the details below.' }),
};

/** The user-facing description of any error thrown while loading or generating. */
export function describeError(e: unknown): UserError {
  const f = factsOf(e);
  const { message, suggestion } = HEADLINES[f.kind](f, f.file ?? 'A model file');
  return { kind: f.kind, message, ...(suggestion ? { suggestion } : {}), detail: f.detail };
}

/** Whether the engine that raised `e` must be thrown away and rebuilt before the next request. */
export function needsFreshEngine(e: unknown): boolean {
  const f = factsOf(e);
  return f.kind === 'device-lost' || f.kind === 'gpu-bug' || (f.kind === 'out-of-memory' && f.name !== 'QuotaExceededError');
}
