/**
 * Element types of the safetensors format and conversions of the 16-bit floats to and from f32.
 * bf16 = the upper 16 bits of an IEEE f32; f16 = IEEE 754 binary16.
 */

/** Every dtype the safetensors format defines, with its size in bytes (used to validate headers). */
export const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

/** The float dtypes Stepwise reads (all converted to f32 in memory). */
export type ReadableDtype = "F32" | "F16" | "BF16" | "F64";
/** The dtypes Stepwise writes: F32 for checkpoints, BF16/F16 for fixtures and smaller exports. */
export type WritableDtype = "F32" | "F16" | "BF16";

export const READABLE_DTYPES: readonly ReadableDtype[] = ["F32", "F16", "BF16", "F64"];

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bf16 bits -> f32 value: the bits are the top half of the f32. */
export function bf16ToF32(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}

/** f32 value -> bf16 bits, rounding to nearest, ties to even (as torch does); NaN stays NaN. */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x0040) & 0xffff; // quiet NaN
  const rounded = b + 0x7fff + ((b >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** f16 bits -> f32 value (subnormals, infinities and NaN included). */
export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal: frac * 2^-14 / 2^10
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** f32 value -> f16 bits, rounding to nearest, ties to even; overflow -> infinity. */
export function f32ToF16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15; // re-biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // subnormal f16 (or zero): shift the mantissa with its implicit 1 into place
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e; // 13 bits of f32->f16 mantissa difference + (1 - e)
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1))) m += 1;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  let out = sign | (e << 10) | m;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) out += 1; // carry may bump the exponent: still right
  return out;
}

/** Decode raw little-endian bytes of a float dtype into a new Float32Array. */
export function decodeToF32(dtype: ReadableDtype, bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case "F32":
      new Uint8Array(out.buffer).set(bytes.subarray(0, count * 4)); // little-endian platform: a plain copy
      break;
    case "F64":
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case "BF16": {
      const bits = new Uint32Array(out.buffer);
      if (bytes.byteOffset % 2 === 0) {
        const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, count); // little-endian platform
        for (let i = 0; i < count; i++) bits[i] = u16[i]! << 16;
      } else {
        for (let i = 0; i < count; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      }
      break;
    }
    case "F16":
      for (let i = 0; i < count; i++) out[i] = f16ToF32(view.getUint16(i * 2, true));
      break;
  }
  return out;
}

/** Encode f32 values as little-endian bytes of `dtype`. */
export function encodeFromF32(dtype: WritableDtype, data: Float32Array): Uint8Array {
  if (dtype === "F32") return new Uint8Array(data.buffer, data.byteOffset, data.byteLength); // a view: the platform is little-endian (checked in safetensors.ts)
  const out = new Uint8Array(data.length * 2);
  const view = new DataView(out.buffer);
  const conv = dtype === "BF16" ? f32ToBf16 : f32ToF16;
  for (let i = 0; i < data.length; i++) view.setUint16(i * 2, conv(data[i]!), true);
  return out;
}
