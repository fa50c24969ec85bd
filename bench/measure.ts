/**
 * Measurement helpers for `npm run bench`: wall and process CPU time (median after warm-up),
 * peak process RSS per section, and a description of the machine.
 *
 * CPU time matters here because the 2 cores are shared: wall time grows with the load of other
 * processes, CPU time of this process (close to the wall time on a quiet machine, the wasm
 * backend being single-threaded) much less.
 */
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { nativeBlas } from "../src/backend/native.js";

/** One timed section: medians over `runs` repeats after the warm-ups. */
export interface Timing {
  /** median wall seconds */
  wall_s: number;
  /** median CPU seconds of this process (user + system, all threads) */
  cpu_s: number;
  /** every wall time, in order */
  walls: number[];
  runs: number;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memory_gib: number;
  node: string;
  platform: string;
  date: string;
  /** 1, 5 and 15-minute load averages at the start (> cores: other work shares the machine) */
  load: number[];
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Run `fn` `warmup` times untimed, then `runs` times timed; medians of wall and CPU seconds. */
export function time(fn: () => void, runs: number, warmup = 1): Timing {
  for (let i = 0; i < warmup; i++) fn();
  const walls: number[] = [], cpus: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    fn();
    walls.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1e6);
  }
  return { wall_s: median(walls), cpu_s: median(cpus), walls, runs };
}

/** Peak resident set (VmHWM) of this process in bytes, or NaN where /proc is absent. */
export function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Reset the peak-RSS mark (Linux: writing 5 to clear_refs), so the next peakRss() is the peak of
 * the section that follows. Note the wasm heap never shrinks: a section's RSS includes the heap
 * the earlier sections grew (reported as is).
 */
export function resetPeakRss(): void {
  try { writeFileSync("/proc/self/clear_refs", "5"); } catch { /* not Linux: peaks are cumulative */ }
}

export function machine(): MachineInfo {
  let cpu = os.cpus()[0]?.model ?? "unknown";
  try {
    const flags = /flags\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "";
    const simd = ["avx512f", "avx2", "fma"].filter((f) => flags.split(" ").includes(f));
    if (simd.length) cpu += ` (${simd.join(", ")})`;
  } catch { /* not Linux */ }
  return {
    cpu,
    cores: os.cpus().length,
    memory_gib: os.totalmem() / 2 ** 30,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
    load: os.loadavg(),
  };
}

export const mib = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(0)} MiB` : "n/a");

/**
 * The machine's memory bandwidth as one thread's memcpy sees it (Buffer.copy of 256 MiB, best of
 * 5 after a warm-up that faults the pages in): bytes read + bytes written per second. The yardstick
 * for memory-bound decoding, which reads every weight once per step.
 */
export function memoryBandwidth(): { bytes_per_s: number; buffer_bytes: number } {
  const n = 256 * 2 ** 20;
  const src = Buffer.alloc(n, 1), dst = Buffer.alloc(n);
  src.copy(dst);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    src.copy(dst);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return { bytes_per_s: (2 * n) / best, buffer_bytes: n };
}

/**
 * How fast the native addon's threads read memory (NativeKernels.sumAll over 1 GiB of float32,
 * far beyond the caches, best of 5 after a warm-up): bytes read per second, the yardstick a
 * decoding step at batch 1 (every weight read once, by the same threads) is compared with.
 * null without the addon.
 */
export function threadReadBandwidth(): { bytes_per_s: number; buffer_bytes: number; threads: number } | null {
  const blas = nativeBlas();
  if (!blas) return null;
  const x = new Float32Array(2 ** 28).fill(1);
  blas.kernels.sumAll(x);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    if (blas.kernels.sumAll(x) !== x.length) throw new Error("sumAll: wrong sum");
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return { bytes_per_s: x.byteLength / best, buffer_bytes: x.byteLength, threads: blas.threads };
}

