import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CheckpointError } from "../../src/io/errors.js";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../../src/io/dtype.js";
import { readSafetensors, readSafetensorsHeader, writeSafetensors, type FloatTensor } from "../../src/io/safetensors.js";
import { INDEX_FILE, WeightSource, writeShardedSafetensors } from "../../src/io/weights.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-st-"));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const tmp = () => fs.mkdtempSync(path.join(root, "t"));

function t(shape: number[], values: number[]): FloatTensor {
  return { shape, data: Float32Array.from(values) };
}

/** Build a file from a raw header object and data bytes (for corrupt-file tests). */
function rawFile(file: string, header: unknown, data: Uint8Array, lenOverride?: bigint): void {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lenOverride ?? BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
}

function rejects(fn: () => unknown, file: string, problem: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `expected CheckpointError, got ${String(e)}`);
    assert.ok(e.message.includes(file), `message names the file: ${e.message}`);
    assert.match(e.message, problem);
    return true;
  });
}

test("f32 round trip is exact, including specials, and the header is 8-byte aligned", () => {
  const dir = tmp();
  const file = path.join(dir, "a.safetensors");
  const rnd = Array.from({ length: 60 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453);
  const tensors = new Map<string, FloatTensor>([
    ["w", t([3, 20], rnd)],
    ["specials", t([6], [0, -0, Infinity, -Infinity, 1.401298464324817e-45, 3.4028234663852886e38])],
    ["scalar", t([], [42.5])],
    ["empty", t([0, 4], [])],
  ]);
  writeSafetensors(file, tensors, { metadata: { format: "pt", step: "7" } });
  const bytes = fs.readFileSync(file);
  assert.equal(Number(bytes.readBigUInt64LE(0)) % 8, 0);
  const back = readSafetensors(file);
  assert.deepEqual(back.metadata, { format: "pt", step: "7" });
  assert.deepEqual([...back.tensors.keys()], ["w", "specials", "scalar", "empty"]);
  for (const [name, orig] of tensors) {
    const got = back.tensors.get(name)!;
    assert.deepEqual(got.shape, orig.shape);
    assert.deepEqual(Array.from(got.data), Array.from(orig.data), name);
  }
  // -0 survives bit-exactly
  assert.ok(Object.is(back.tensors.get("specials")!.data[1], -0));
});

test("bf16 conversion matches hand-computed bits and values", () => {
  assert.equal(f32ToBf16(1), 0x3f80);
  assert.equal(f32ToBf16(-2), 0xc000);
  // 0.1f = 0x3DCCCCCD: low half 0xCCCD > 0x8000 rounds up to 0x3DCD
  assert.equal(f32ToBf16(0.1), 0x3dcd);
  assert.equal(bf16ToF32(0x3dcd), 0.10009765625);
  // tie: 1 + 2^-8 is exactly half-way between bf16 1.0 (0x3F80) and 0x3F81; ties go to even
  assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80);
  assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82);

  const dir = tmp();
  const file = path.join(dir, "b.safetensors");
  writeSafetensors(file, new Map([["x", t([2, 2], [1, -2, 0.1, 3.14159])]]), { dtype: "BF16" });
  const h = readSafetensorsHeader(file);
  assert.equal(h.tensors.get("x")!.dtype, "BF16");
  assert.equal(h.tensors.get("x")!.end - h.tensors.get("x")!.begin, 8);
  const raw = fs.readFileSync(file).subarray(h.tensors.get("x")!.begin);
  assert.deepEqual([...raw], [0x80, 0x3f, 0x00, 0xc0, 0xcd, 0x3d, 0x49, 0x40]); // pi -> 0x4049 (3.140625)
  const back = readSafetensors(file).tensors.get("x")!;
  assert.deepEqual(Array.from(back.data), [1, -2, 0.10009765625, 3.140625]);
});

test("f16 conversion matches hand-computed bits and values", () => {
  assert.equal(f32ToF16(1), 0x3c00);
  assert.equal(f32ToF16(-0.5), 0xb800);
  assert.equal(f32ToF16(65504), 0x7bff); // largest finite f16
  assert.equal(f32ToF16(70000), 0x7c00); // overflow -> +inf
  assert.equal(f32ToF16(0.1), 0x2e66);
  assert.equal(f16ToF32(0x2e66), 0.0999755859375);
  // 1e-7 / 2^-24 = 1.68 -> subnormal mantissa 2
  assert.equal(f32ToF16(1e-7), 0x0002);
  assert.equal(f16ToF32(0x0002), 2 * 2 ** -24);
  assert.equal(f16ToF32(0x7c00), Infinity);
  assert.ok(Number.isNaN(f16ToF32(0x7e00)));

  const dir = tmp();
  const file = path.join(dir, "h.safetensors");
  writeSafetensors(file, new Map([["x", t([4], [1, -0.5, 0.1, 65504])]]), { dtype: "F16" });
  const back = readSafetensors(file).tensors.get("x")!;
  assert.deepEqual(Array.from(back.data), [1, -0.5, 0.0999755859375, 65504]);
  // every finite f16 survives f16 -> f32 -> f16
  for (let bits = 0; bits < 0x7c00; bits += 7) assert.equal(f32ToF16(f16ToF32(bits)), bits);
});

test("sharded weights: index + shards load as one source", () => {
  const dir = tmp();
  const tensors = new Map<string, FloatTensor>();
  for (let i = 0; i < 5; i++) tensors.set(`layer.${i}.w`, t([2, 3], [i, i + 1, i + 2, i + 3, i + 4, i + 5]));
  const files = writeShardedSafetensors(dir, tensors, 2);
  assert.deepEqual(files, ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]);
  const index = JSON.parse(fs.readFileSync(path.join(dir, INDEX_FILE), "utf8"));
  assert.equal(index.metadata.total_size, 5 * 6 * 4);
  assert.equal(new Set(Object.values(index.weight_map)).size, 2);
  const src = WeightSource.open(dir);
  try {
    assert.equal(src.totalElements(), 30);
    assert.deepEqual(src.names().sort(), [...tensors.keys()].sort());
    for (const [name, orig] of tensors) assert.deepEqual(Array.from(src.read(name).data), Array.from(orig.data));
  } finally {
    src.close();
  }
});

test("sharded: a missing shard and a tensor missing from its shard are named", () => {
  const dir = tmp();
  const tensors = new Map([["a", t([1], [1])], ["b", t([1], [2])]]);
  writeShardedSafetensors(dir, tensors, 2);
  const index = JSON.parse(fs.readFileSync(path.join(dir, INDEX_FILE), "utf8"));
  index.weight_map.c = "model-00001-of-00002.safetensors";
  fs.writeFileSync(path.join(dir, INDEX_FILE), JSON.stringify(index));
  rejects(() => WeightSource.open(dir), "model-00001-of-00002.safetensors", /tensor "c" is listed .* missing from this shard/);
  fs.rmSync(path.join(dir, "model-00002-of-00002.safetensors"));
  rejects(() => WeightSource.open(dir), INDEX_FILE, /model-00002-of-00002.safetensors, which is missing/);
  fs.writeFileSync(path.join(dir, INDEX_FILE), "{ not json");
  rejects(() => WeightSource.open(dir), INDEX_FILE, /not valid JSON/);
  const empty = tmp();
  rejects(() => WeightSource.open(empty), empty, /no weights/);
});

test("corrupt and truncated files are rejected with the file and the problem", () => {
  const dir = tmp();
  const f = (n: string) => path.join(dir, n);
  const good = { x: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const data8 = new Uint8Array(8);

  fs.writeFileSync(f("tiny.safetensors"), Buffer.from([1, 2, 3]));
  rejects(() => readSafetensors(f("tiny.safetensors")), "tiny.safetensors", /truncated: 3 bytes/);

  rawFile(f("len.safetensors"), good, data8, 1_000_000n);
  rejects(() => readSafetensors(f("len.safetensors")), "len.safetensors", /header length 1000000 runs past the end/);

  rawFile(f("json.safetensors"), "{\"x\": [", data8);
  rejects(() => readSafetensors(f("json.safetensors")), "json.safetensors", /header is not valid JSON/);

  rawFile(f("trunc.safetensors"), good, new Uint8Array(5));
  rejects(() => readSafetensors(f("trunc.safetensors")), "trunc.safetensors", /truncated: tensor "x" ends at byte/);

  // a good file cut short on disk
  writeSafetensors(f("cut.safetensors"), new Map([["w", t([4, 4], new Array(16).fill(1))]]));
  const whole = fs.readFileSync(f("cut.safetensors"));
  fs.writeFileSync(f("cut.safetensors"), whole.subarray(0, whole.length - 10));
  rejects(() => readSafetensors(f("cut.safetensors")), "cut.safetensors", /truncated/);

  rawFile(
    f("overlap.safetensors"),
    { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } },
    new Uint8Array(12),
  );
  rejects(() => readSafetensors(f("overlap.safetensors")), "overlap.safetensors", /"a" and "b" overlap/);

  rawFile(f("dtype.safetensors"), { x: { dtype: "F33", shape: [2], data_offsets: [0, 8] } }, data8);
  rejects(() => readSafetensors(f("dtype.safetensors")), "dtype.safetensors", /unknown dtype "F33"/);

  rawFile(f("shape.safetensors"), { x: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, data8);
  rejects(() => readSafetensors(f("shape.safetensors")), "shape.safetensors", /shape \[3\] x F32 .* = 12 bytes, but data_offsets span 8/);

  rawFile(f("neg.safetensors"), { x: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, data8);
  rejects(() => readSafetensors(f("neg.safetensors")), "neg.safetensors", /data_offsets/);

  rawFile(f("int.safetensors"), { x: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, data8);
  rejects(() => readSafetensors(f("int.safetensors")), "int.safetensors", /dtype I64; Stepwise reads F32, F16, BF16/);

  rejects(() => readSafetensors(f("absent.safetensors")), "absent.safetensors", /file not found/);
});
