/**
 * The weights of a model directory, single-file (`model.safetensors`) or sharded
 * (`model.safetensors.index.json` + shards), behind one reader.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CheckpointError } from "./errors.js";
import { SafetensorsReader, writeSafetensors, type FloatTensor, type TensorInfo, type WriteOptions } from "./safetensors.js";

export const WEIGHTS_FILE = "model.safetensors";
export const INDEX_FILE = "model.safetensors.index.json";

/** Where one tensor lives. */
export interface WeightEntry {
  file: string;
  info: TensorInfo;
}

/** Headers of every weights file of a directory, validated; tensors read on demand. */
export class WeightSource {
  /** tensor name -> file and header entry */
  readonly entries = new Map<string, WeightEntry>();
  private readers = new Map<string, SafetensorsReader>();

  private constructor(readonly dir: string, readonly files: string[]) {}

  /**
   * Open the weights of `dir`: the shard index when present, else model.safetensors.
   * Only headers are read here.
   */
  static open(dir: string): WeightSource {
    const indexPath = path.join(dir, INDEX_FILE);
    const singlePath = path.join(dir, WEIGHTS_FILE);
    if (fs.existsSync(indexPath)) return WeightSource.openSharded(dir, indexPath);
    if (!fs.existsSync(singlePath)) {
      throw new CheckpointError(dir, `no weights: neither ${WEIGHTS_FILE} nor ${INDEX_FILE} is in this directory`);
    }
    const src = new WeightSource(dir, [singlePath]);
    const r = src.reader(singlePath);
    for (const [name, info] of r.header.tensors) src.entries.set(name, { file: singlePath, info });
    return src;
  }

  private static openSharded(dir: string, indexPath: string): WeightSource {
    let index: unknown;
    try {
      index = JSON.parse(fs.readFileSync(indexPath, "utf8"));
    } catch (e) {
      throw new CheckpointError(indexPath, `corrupt: not valid JSON (${(e as Error).message})`);
    }
    const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
    if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap)) {
      throw new CheckpointError(indexPath, `corrupt: no "weight_map" object`);
    }
    const byName = Object.entries(weightMap as Record<string, unknown>);
    const shardNames = [...new Set(byName.map(([, f]) => String(f)))];
    for (const s of shardNames) {
      if (s.includes("/") || s.includes("\\") || s === "..") {
        throw new CheckpointError(indexPath, `shard "${s}" must be a file name in the same directory`);
      }
    }
    const files = shardNames.map((s) => path.join(dir, s));
    const src = new WeightSource(dir, files);
    for (const f of files) {
      if (!fs.existsSync(f)) throw new CheckpointError(indexPath, `lists shard ${path.basename(f)}, which is missing`);
      src.reader(f);
    }
    for (const [name, shard] of byName) {
      const file = path.join(dir, String(shard));
      const info = src.reader(file).header.tensors.get(name);
      if (!info) {
        throw new CheckpointError(file, `tensor "${name}" is listed in ${INDEX_FILE} but missing from this shard`);
      }
      src.entries.set(name, { file, info });
    }
    return src;
  }

  private reader(file: string): SafetensorsReader {
    let r = this.readers.get(file);
    if (!r) {
      r = new SafetensorsReader(file);
      this.readers.set(file, r);
    }
    return r;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Number of elements across all tensors (from the headers). */
  totalElements(): number {
    let n = 0;
    for (const { info } of this.entries.values()) n += info.shape.reduce((a, b) => a * b, 1);
    return n;
  }

  /** Bytes on disk of the tensor data. */
  totalBytes(): number {
    let n = 0;
    for (const { info } of this.entries.values()) n += info.end - info.begin;
    return n;
  }

  read(name: string): FloatTensor {
    const e = this.entries.get(name);
    if (!e) throw new CheckpointError(this.dir, `no tensor named "${name}" in the weights`);
    return this.reader(e.file).read(name);
  }

  close(): void {
    for (const r of this.readers.values()) r.close();
    this.readers.clear();
  }
}

/**
 * Write tensors as `shards` files named as Hugging Face does (model-00001-of-00002.safetensors)
 * plus model.safetensors.index.json. Tensors are split in order into shards of about equal bytes.
 */
export function writeShardedSafetensors(
  dir: string,
  tensors: Map<string, FloatTensor>,
  shards: number,
  opts: WriteOptions = {},
): string[] {
  const entries = [...tensors];
  if (shards < 1 || shards > entries.length) throw new Error(`writeShardedSafetensors: shards must be in 1..${entries.length}`);
  const total = entries.reduce((a, [, t]) => a + t.data.length, 0);
  const groups: [string, FloatTensor][][] = Array.from({ length: shards }, () => []);
  // fill shards in order, about total/shards elements each; every shard gets at least one tensor
  let acc = 0;
  let k = 0;
  for (let i = 0; i < entries.length; i++) {
    const tensorsLeft = entries.length - i;
    const shardsAfter = shards - k - 1;
    if (groups[k]!.length > 0 && shardsAfter > 0 && (acc >= ((k + 1) * total) / shards || tensorsLeft <= shardsAfter)) k++;
    groups[k]!.push(entries[i]!);
    acc += entries[i]![1].data.length;
  }
  const pad = (n: number) => String(n).padStart(5, "0");
  const weightMap: Record<string, string> = {};
  const files: string[] = [];
  const bytesPer = opts.dtype === "F32" || opts.dtype === undefined ? 4 : 2;
  groups.forEach((g, k) => {
    const name = `model-${pad(k + 1)}-of-${pad(shards)}.safetensors`;
    writeSafetensors(path.join(dir, name), g, opts);
    for (const [t] of g) weightMap[t] = name;
    files.push(name);
  });
  const index = { metadata: { total_size: total * bytesPer }, weight_map: weightMap };
  fs.writeFileSync(path.join(dir, INDEX_FILE), JSON.stringify(index, null, 2) + "\n");
  return files;
}
