/**
 * safetensors files (https://github.com/huggingface/safetensors), read and written without tf.
 *
 * Layout: [u64 LE header length N][N bytes of JSON header][data]. The header maps each tensor
 * name to { dtype, shape, data_offsets: [begin, end] } (offsets relative to the data section) and
 * may hold "__metadata__": { string: string }. Every problem is a CheckpointError naming the file.
 *
 * Tensors are read one at a time from an open file descriptor, so a multi-GB checkpoint never sits
 * in memory twice.
 */
import * as fs from "node:fs";
import { CheckpointError } from "./errors.js";
import {
  DTYPE_BYTES,
  READABLE_DTYPES,
  decodeToF32,
  encodeFromF32,
  type ReadableDtype,
  type WritableDtype,
} from "./dtype.js";

/** A float tensor as plain data, row-major. */
export interface FloatTensor {
  shape: number[];
  data: Float32Array;
}

/** One tensor's entry in a safetensors header. */
export interface TensorInfo {
  dtype: string;
  shape: number[];
  /** absolute byte range in the file */
  begin: number;
  end: number;
}

/** A parsed and validated header. */
export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

/** A tensor to write: its data, or a function producing it when the writer reaches it (one tensor in memory at a time). */
export interface WritableTensor {
  shape: number[];
  data: Float32Array | (() => Float32Array);
}

export interface WriteOptions {
  /** element type on disk; F32 by default (checkpoints are exact) */
  dtype?: WritableDtype;
  /** string-to-string metadata stored under "__metadata__" */
  metadata?: Record<string, string>;
}

/** The safetensors reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("safetensors: this platform is big-endian; Stepwise assumes little-endian");
}

function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Parse the header of an open file. */
function parseHeader(file: string, fd: number, fileSize: number): SafetensorsHeader {
  if (fileSize < 8) {
    throw new CheckpointError(file, `truncated: ${fileSize} bytes, shorter than the 8-byte header length`);
  }
  const lenBuf = Buffer.alloc(8);
  fs.readSync(fd, lenBuf, 0, 8, 0);
  const headerLen = lenBuf.readBigUInt64LE(0);
  if (headerLen > BigInt(fileSize - 8)) {
    throw new CheckpointError(
      file,
      `truncated or corrupt: header length ${headerLen} runs past the end of the file (${fileSize} bytes)`,
    );
  }
  if (headerLen > BigInt(MAX_HEADER_BYTES)) {
    throw new CheckpointError(file, `corrupt: header length ${headerLen} exceeds ${MAX_HEADER_BYTES} bytes`);
  }
  const n = Number(headerLen);
  const headerBuf = Buffer.alloc(n);
  fs.readSync(fd, headerBuf, 0, n, 8);
  let json: unknown;
  try {
    json = JSON.parse(headerBuf.toString("utf8"));
  } catch (e) {
    throw new CheckpointError(file, `corrupt: the header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new CheckpointError(file, "corrupt: the header is not a JSON object");
  }
  const dataStart = 8 + n;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        throw new CheckpointError(file, "corrupt: __metadata__ is not an object");
      }
      metadata = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]));
      continue;
    }
    tensors.set(name, parseEntry(file, name, raw, dataStart, fileSize));
  }
  checkOverlaps(file, tensors);
  return { file, fileSize, tensors, metadata };
}

function parseEntry(file: string, name: string, raw: unknown, dataStart: number, fileSize: number): TensorInfo {
  const bad = (what: string) => new CheckpointError(file, `corrupt: tensor "${name}": ${what}`);
  if (typeof raw !== "object" || raw === null) throw bad("entry is not an object");
  const { dtype, shape, data_offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== "string") throw bad("missing dtype");
  const size = DTYPE_BYTES[dtype];
  if (size === undefined) {
    throw bad(`unknown dtype "${dtype}" (safetensors dtypes: ${Object.keys(DTYPE_BYTES).join(", ")})`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (
    !Array.isArray(data_offsets) ||
    data_offsets.length !== 2 ||
    !data_offsets.every((d) => Number.isSafeInteger(d) && d >= 0) ||
    data_offsets[0] > data_offsets[1]
  ) {
    throw bad(`data_offsets ${JSON.stringify(data_offsets)} is not [begin, end] with 0 <= begin <= end`);
  }
  const [b, e] = data_offsets as [number, number];
  const need = elementCount(shape) * size;
  if (e - b !== need) {
    throw bad(`shape [${shape.join(", ")}] x ${dtype} (${size} bytes) = ${need} bytes, but data_offsets span ${e - b}`);
  }
  if (dataStart + e > fileSize) {
    throw new CheckpointError(
      file,
      `truncated: tensor "${name}" ends at byte ${dataStart + e} but the file has ${fileSize} bytes`,
    );
  }
  return { dtype, shape: shape as number[], begin: dataStart + b, end: dataStart + e };
}

function checkOverlaps(file: string, tensors: Map<string, TensorInfo>): void {
  const sorted = [...tensors.entries()].filter(([, t]) => t.end > t.begin).sort((x, y) => x[1].begin - y[1].begin);
  for (let i = 1; i < sorted.length; i++) {
    const [pn, p] = sorted[i - 1]!;
    const [cn, c] = sorted[i]!;
    if (c.begin < p.end) {
      throw new CheckpointError(file, `corrupt: tensors "${pn}" and "${cn}" overlap in the data section`);
    }
  }
}

function openForRead(file: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(file, code === "ENOENT" ? "file not found" : `cannot open (${code ?? String(e)})`);
  }
  return { fd, size: fs.fstatSync(fd).size };
}

/** Read and validate only the header of a safetensors file (cheap: no tensor data is read). */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const { fd, size } = openForRead(file);
  try {
    return parseHeader(file, fd, size);
  } finally {
    fs.closeSync(fd);
  }
}

/** Read one tensor described by `info` from an open file, converted to f32. */
function readEntry(file: string, fd: number, name: string, info: TensorInfo): FloatTensor {
  if (!(READABLE_DTYPES as readonly string[]).includes(info.dtype)) {
    throw new CheckpointError(
      file,
      `tensor "${name}" has dtype ${info.dtype}; Stepwise reads ${READABLE_DTYPES.join(", ")}`,
    );
  }
  const bytes = Buffer.alloc(info.end - info.begin);
  const got = fs.readSync(fd, bytes, 0, bytes.length, info.begin);
  if (got !== bytes.length) {
    throw new CheckpointError(file, `truncated: tensor "${name}" could only read ${got} of ${bytes.length} bytes`);
  }
  const data = decodeToF32(info.dtype as ReadableDtype, bytes, elementCount(info.shape));
  return { shape: [...info.shape], data };
}

/**
 * A readable safetensors file: header parsed up front, tensors read on demand.
 * Call close() when done (or use readSafetensors for small files).
 */
export class SafetensorsReader {
  readonly header: SafetensorsHeader;
  private fd: number | null;

  constructor(readonly file: string) {
    const { fd, size } = openForRead(file);
    try {
      this.header = parseHeader(file, fd, size);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    this.fd = fd;
  }

  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  read(name: string): FloatTensor {
    const info = this.header.tensors.get(name);
    if (!info) throw new CheckpointError(this.file, `no tensor named "${name}"`);
    if (this.fd === null) throw new Error(`SafetensorsReader(${this.file}) is closed`);
    return readEntry(this.file, this.fd, name, info);
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** Read a whole safetensors file into f32 tensors. */
export function readSafetensors(file: string): { tensors: Map<string, FloatTensor>; metadata: Record<string, string> } {
  const r = new SafetensorsReader(file);
  try {
    const tensors = new Map<string, FloatTensor>();
    for (const name of r.names()) tensors.set(name, r.read(name));
    return { tensors, metadata: r.header.metadata };
  } finally {
    r.close();
  }
}

/**
 * Write tensors (f32 in memory) to a safetensors file, in the given order.
 * The header is padded with spaces to a multiple of 8 bytes, as the reference implementation does.
 */
export function writeSafetensors(
  file: string,
  tensors: Map<string, WritableTensor> | Iterable<[string, WritableTensor]>,
  opts: WriteOptions = {},
): void {
  const dtype = opts.dtype ?? "F32";
  const size = DTYPE_BYTES[dtype]!;
  const entries = [...tensors];
  const header: Record<string, unknown> = {};
  if (opts.metadata && Object.keys(opts.metadata).length > 0) header.__metadata__ = opts.metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const n = elementCount(t.shape);
    if (typeof t.data !== "function" && n !== t.data.length) {
      throw new Error(`writeSafetensors: tensor "${name}" has shape [${t.shape.join(", ")}] but ${t.data.length} values`);
    }
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + n * size] };
    offset += n * size;
  }
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const fd = fs.openSync(file, "w");
  try {
    fs.writeSync(fd, len);
    fs.writeSync(fd, json);
    for (const [name, t] of entries) {
      const data = typeof t.data === "function" ? t.data() : t.data;
      if (data.length !== elementCount(t.shape)) {
        throw new Error(`writeSafetensors: tensor "${name}" has shape [${t.shape.join(", ")}] but ${data.length} values`);
      }
      const bytes = encodeFromF32(dtype, data);
      for (let off = 0; off < bytes.length; ) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    }
  } finally {
    fs.closeSync(fd);
  }
}
