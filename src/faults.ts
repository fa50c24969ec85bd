/**
 * Fault injection for the crash-safety tests (test/run/faults.test.ts): instrumented points in the
 * engine where a child `stepwise run` can be made to die, to prove that `--resume` recovers from
 * a kill at that moment.
 *
 *   STEPWISE_FAULT="POINT:N"          the process SIGKILLs itself the Nth time it reaches POINT
 *   STEPWISE_FAULT="POINT:N:enospc"   the Nth write at POINT fails with ENOSPC instead
 *   STEPWISE_FAULT="POINT:N:stop"     the process stops itself (SIGSTOP) there, alive and holding
 *                                     its run's lock, until a SIGCONT (test/run/run-lock.test.ts)
 *   several faults: comma-separated
 *
 * Points: "sft-step" (an SFT update done, before its row), "sample" (a decoding step of the
 * sampler), "optimizer" (inside AdamW's update, half the parameters updated), "checkpoint-swap"
 * (between the two renames of a checkpoint swap), "rollouts" (an RL iteration's rollouts file
 * written, before its row), "write" (any file the run store writes or appends; with enospc).
 * Unset (always, outside these tests) a point costs one Map lookup.
 */

interface Fault {
  at: number;
  kind: "kill" | "enospc" | "stop";
}

let faults: Map<string, Fault> | null = null;
const hits = new Map<string, number>();

function parse(spec: string | undefined): Map<string, Fault> {
  const out = new Map<string, Fault>();
  for (const part of (spec ?? "").split(",")) {
    const [point, n, kind] = part.trim().split(":");
    if (!point) continue;
    const at = Number(n ?? "1");
    if (!Number.isInteger(at) || at < 1) throw new Error(`STEPWISE_FAULT: "${part}" needs POINT:N with N a whole number ≥ 1`);
    if (kind !== undefined && kind !== "enospc" && kind !== "stop") throw new Error(`STEPWISE_FAULT: "${part}": the kind after N is enospc or stop`);
    out.set(point, { at, kind: kind ?? "kill" });
  }
  return out;
}

/**
 * Marks an instrumented point. Dies (SIGKILL, nothing flushed or cleaned), for an enospc fault
 * throws the error a full disk gives, naming `file`, for a stop fault stops (SIGSTOP) until continued.
 */
export function faultPoint(point: string, file?: string): void {
  faults ??= parse(process.env.STEPWISE_FAULT);
  if (faults.size === 0) return;
  const f = faults.get(point);
  if (!f) return;
  const n = (hits.get(point) ?? 0) + 1;
  hits.set(point, n);
  if (n !== f.at) return;
  if (f.kind === "stop") {
    process.kill(process.pid, "SIGSTOP");
    return;
  }
  if (f.kind === "enospc") {
    const e = new Error(`ENOSPC: no space left on device, write '${file ?? point}'`) as NodeJS.ErrnoException;
    e.code = "ENOSPC";
    e.path = file;
    throw e;
  }
  process.kill(process.pid, "SIGKILL");
}
