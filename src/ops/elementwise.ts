import type { Engine } from '../gpu/engine';
import { kernel } from '../gpu/kernel';
import { Params } from '../gpu/params';
import { fmtShape, type Tensor } from '../gpu/tensor';
import concatWgsl from '../../shaders/concat.wgsl?raw';
import elementwiseWgsl from '../../shaders/elementwise.wgsl?raw';
import gegluWgsl from '../../shaders/geglu.wgsl?raw';
import upsampleWgsl from '../../shaders/upsample.wgsl?raw';
import { type Activation, ACTIVATION_ID, ACTIVATIONS_WGSL } from './activation';

const UNARY = kernel('unary', ACTIVATIONS_WGSL + elementwiseWgsl, 'unary_main');
const AXPBY = kernel('axpby', ACTIVATIONS_WGSL + elementwiseWgsl, 'axpby_main');
const GEGLU = kernel('geglu', ACTIVATIONS_WGSL + gegluWgsl);
const UPSAMPLE = kernel('upsample_nearest', upsampleWgsl);
const CONCAT = kernel('concat_channels', concatWgsl);
const WG = 256;

function unary(e: Engine, x: Tensor, s: number, act: Activation): Tensor {
  const out = e.empty(x.shape, x.dtype);
  e.dispatch({
    kernel: UNARY, dtype: x.dtype, bindings: [new Params().u32(x.size).f32(s).f32(0).bytes(), x, out],
    workgroups: e.grid(x.size, WG), constants: { ACT: ACTIVATION_ID[act] },
  });
  return out;
}

/** act(x) elementwise (f32 math): 'silu', 'gelu' (exact erf), 'quick_gelu', 'gelu_tanh', 'none' (a copy). */
export function activation(e: Engine, x: Tensor, act: Activation): Tensor {
  if (!(act in ACTIVATION_ID)) throw new RangeError(`activation: unknown activation '${act}'`);
  return unary(e, x, 1, act);
}

/** x · s elementwise (e.g. latents × init_noise_sigma, × 1/vae_scaling_factor). */
export function scale(e: Engine, x: Tensor, s: number): Tensor {
  if (!Number.isFinite(s)) throw new RangeError(`scale: factor must be finite, got ${s}`);
  return unary(e, x, s, 'none');
}

/** a·x + b·y elementwise, same shape and dtype (CFG: uncond + g·(text − uncond) = (1−g)·uncond + g·text). */
export function axpby(e: Engine, a: number, x: Tensor, b: number, y: Tensor): Tensor {
  if (x.size !== y.size || x.dtype !== y.dtype) throw new RangeError(`axpby: x ${x} and y ${y} must have the same size and dtype`);
  if (!Number.isFinite(a) || !Number.isFinite(b)) throw new RangeError(`axpby: coefficients must be finite, got a=${a}, b=${b}`);
  const out = e.empty(x.shape, x.dtype);
  e.dispatch({
    kernel: AXPBY, dtype: x.dtype, bindings: [new Params().u32(x.size).f32(a).f32(b).bytes(), x, y, out],
    workgroups: e.grid(x.size, WG),
  });
  return out;
}

/**
 * diffusers GEGLU after its projection: x [..., 2D] -> [..., D], out = x[..., :D] · gelu(x[..., D:]) (exact erf).
 */
export function geglu(e: Engine, x: Tensor): Tensor {
  const last = x.shape[x.shape.length - 1];
  if (x.shape.length < 1 || last % 2 !== 0) throw new RangeError(`geglu: last dim of x ${fmtShape(x.shape)} must be even ([value, gate] halves)`);
  const D = last / 2;
  const out = e.empty([...x.shape.slice(0, -1), D], x.dtype);
  e.dispatch({ kernel: GEGLU, dtype: x.dtype, bindings: [new Params().u32(out.size).u32(D).bytes(), x, out], workgroups: e.grid(out.size, WG) });
  return out;
}

/** Nearest 2x upsampling: NHWC [N, H, W, C] -> [N, 2H, 2W, C] (UNet / VAE Upsample2D before its conv). */
export function upsampleNearest2x(e: Engine, x: Tensor): Tensor {
  if (x.shape.length !== 4) throw new RangeError(`upsampleNearest2x: x must be NHWC [N, H, W, C], got ${fmtShape(x.shape)}`);
  return upsampleNearest(e, x, 2 * x.shape[1], 2 * x.shape[2]);
}

/**
 * Nearest upsampling to an explicit size: NHWC [N, H, W, C] -> [N, Ho, Wo, C], torch F.interpolate(size=(Ho, Wo),
 * mode='nearest'): source index floor(o · in/out) (f32 scale), clamped. diffusers' Upsample2D takes this path with
 * `output_size` = the skip connection's size when a latent side is not divisible by the UNet's total downsampling.
 */
export function upsampleNearest(e: Engine, x: Tensor, Ho: number, Wo: number): Tensor {
  if (x.shape.length !== 4) throw new RangeError(`upsampleNearest: x must be NHWC [N, H, W, C], got ${fmtShape(x.shape)}`);
  const [N, H, W, C] = x.shape;
  if (!Number.isInteger(Ho) || !Number.isInteger(Wo) || Ho < 1 || Wo < 1) throw new RangeError(`upsampleNearest: output size ${Ho}×${Wo} must be positive integers`);
  const out = e.empty([N, Ho, Wo, C], x.dtype);
  try {
    e.dispatch({
      kernel: UPSAMPLE, dtype: x.dtype,
      bindings: [new Params().u32(out.size).u32(H).u32(W).u32(C).u32(Ho).u32(Wo).f32(Math.fround(H / Ho)).f32(Math.fround(W / Wo)).bytes(), x, out],
      workgroups: e.grid(out.size, WG),
    });
  } catch (err) {
    out.release(); // e.g. an output over the binding limit: nothing is left behind
    throw err;
  }
  return out;
}

/**
 * Channel concat of channels-last tensors, a first: a [..., Ca], b [..., Cb] (same leading dims) -> [..., Ca+Cb]
 * (torch.cat([h, skip], dim=1) in NCHW: UNet up-block skip connections).
 */
export function concatChannels(e: Engine, a: Tensor, b: Tensor): Tensor {
  const lead = a.shape.slice(0, -1);
  if (a.shape.length < 1 || a.shape.length !== b.shape.length || lead.some((d, i) => d !== b.shape[i]) || a.dtype !== b.dtype) {
    throw new RangeError(`concatChannels: a ${a} and b ${b} must match in every dim but the last, and in dtype`);
  }
  const Ca = a.shape[a.shape.length - 1], Cb = b.shape[b.shape.length - 1];
  const out = e.empty([...lead, Ca + Cb], a.dtype);
  e.dispatch({
    kernel: CONCAT, dtype: a.dtype, bindings: [new Params().u32(out.size).u32(Ca).u32(Cb).bytes(), a, b, out],
    workgroups: e.grid(out.size, WG),
  });
  return out;
}
