/**
 * Sinusoidal positional encoding of the AnimateDiff motion module (PositionalEncoding in
 * animatediff/models/motion_module.py):  pe[p, 2i] = sin(p·w_i),  pe[p, 2i+1] = cos(p·w_i),
 * w_i = 10000^(−2i/C).  PyTorch builds w_i in float32 as exp(arange(0, C, 2) · (−ln(10000)/C)),
 * so w_i is reproduced the same way (each step rounded to f32) and the sin/cos are taken in float64
 * of the f32 angle p·w_i (also rounded to f32, as torch multiplies f32 tensors), then rounded to f32.
 * Returns [length, C] row-major. C must be even (odd C has no cos column for the last frequency).
 */
export function sinusoidalPositionalEncoding(length: number, c: number): Float32Array {
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`sinusoidalPositionalEncoding: length ${length} must be a positive integer`);
  if (!Number.isInteger(c) || c < 2 || c % 2 !== 0) throw new RangeError(`sinusoidalPositionalEncoding: channels ${c} must be a positive even integer`);
  const f32 = Math.fround;
  const k = f32(-Math.log(10000) / c); // torch: (-math.log(10000.0) / d_model), a python float folded into f32
  const divTerm = new Float64Array(c / 2);
  for (let i = 0; i < c / 2; i++) divTerm[i] = f32(Math.exp(f32(2 * i * k)));
  const pe = new Float32Array(length * c);
  for (let p = 0; p < length; p++) {
    for (let i = 0; i < c / 2; i++) {
      const angle = f32(p * divTerm[i]);
      pe[p * c + 2 * i] = Math.sin(angle);
      pe[p * c + 2 * i + 1] = Math.cos(angle);
    }
  }
  return pe;
}
