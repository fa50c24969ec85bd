/**
 * One writer per directory: a run directory (and a comparison's folder, an export's target) has
 * one owner at a time. The owner file `<dir>/stepwise.lock` is created atomically (written to a
 * temporary, then hard-linked into place, which fails when the file exists) and holds who owns
 * the directory: pid, host name, when it was taken, the process's own start time
 * (/proc/<pid>/stat) and the machine's boot id, and the command line.
 *
 * Whether an owner is alive (docs/runs.md, "One writer per run"):
 *  - same host and boot: alive while a process with its pid exists (kill(pid, 0); EPERM counts as
 *    alive) and has the recorded start time; a pid now used by another process (a different
 *    start time) is a dead owner;
 *  - same host, another boot id: dead (the machine has restarted since: a power cut);
 *  - another host (a run folder on a shared disk): always alive. Nothing tells from here whether
 *    a process on another machine still writes, and a run can last days, so no age makes it
 *    stale; the refusal names the file to delete once that process is gone.
 * A dead owner's lock is taken over, and the caller says so (one line). A file that cannot be
 * read as a lock (truncated by a power cut) is dead once it is a few seconds old.
 *
 * Taking over is serialised by a second exclusive file (`stepwise.lock.takeover`), so two
 * processes that find the same dead owner never both become owners: under it, the lock is read
 * again and removed only if it is still the dead owner's. A fresh lock never needs it (the link
 * fails for all but one).
 *
 * Readers (reports, loadRun, the live view) never take the lock.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const LOCK_FILE = "stepwise.lock";
/** How old an unreadable lock file (or a takeover guard) must be before it counts as dead. */
const ABANDONED_MS = 10_000;

/** What the owner file records. */
export interface LockOwner {
  pid: number;
  host: string;
  /** when the lock was taken (ISO) */
  started: string;
  /** the process's start time in clock ticks after boot (/proc/<pid>/stat field 22), where /proc exists */
  procStart?: string;
  /** /proc/sys/kernel/random/boot_id, where it exists */
  boot?: string;
  /** the command line, for the refusal's message */
  command: string;
}

/** A directory another process owns; the message names the directory and the owner. */
export class DirLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly owner: LockOwner | null,
    message: string,
  ) {
    super(message);
    this.name = "DirLockedError";
  }
}

/** A held lock: `release()` removes the owner file (if it is still this one) and is idempotent. */
export interface DirLock {
  readonly dir: string;
  readonly file: string;
  /** one line when a dead owner's lock was taken over, to be shown to the user */
  readonly tookOver?: string;
  release(): void;
}

/**
 * Takes the lock of `dir` (created when missing; removed again at release when it is left
 * empty). Throws DirLockedError when a live process owns it; a dead owner's lock is taken over
 * (`tookOver` says whose).
 * @example const lock = lockDir("runs/grpo"); try { … } finally { lock.release(); }
 */
export function lockDir(dir: string): DirLock {
  const abs = path.resolve(dir);
  const created = fs.mkdirSync(abs, { recursive: true });
  const file = path.join(abs, LOCK_FILE);
  const mine = JSON.stringify(ownerOfThisProcess(), null, 2) + "\n";
  let tookOver: string | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      if (createExclusive(file, mine)) break;
      if (attempt > 50) throw new Error(`${file}: could not take the lock (other processes keep taking and releasing it); try again`);
      const seen = readLock(file);
      if (seen === null) continue; // released meanwhile: try again
      const verdict = judge(seen);
      if (verdict.alive) throw new DirLockedError(abs, seen.owner, refusal(abs, file, seen.owner, verdict.why));
      const taken = takeOver(file, seen.text);
      if (taken) tookOver = `${abs}: took over the lock of ${describe(seen.owner)}, ${verdict.why}`;
    }
  } catch (e) {
    removeCreated(abs, created);
    throw e;
  }
  const lock = new HeldLock(abs, file, mine, created, tookOver);
  held.add(lock);
  registerExitRelease();
  return lock;
}

/**
 * The nearest directory at or above `dir` whose lock a live process holds (its path and owner),
 * or undefined. For a writer into a folder that may lie inside a run (an export into
 * runs/x/checkpoints/final). Unreadable or dead locks are ignored: this only looks.
 */
export function liveOwnerAbove(dir: string): { dir: string; owner: LockOwner; message: string } | undefined {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const file = path.join(d, LOCK_FILE);
    const seen = fs.existsSync(file) ? readLock(file) : null;
    if (seen?.owner) {
      const verdict = judge(seen);
      if (verdict.alive) return { dir: d, owner: seen.owner, message: refusal(d, file, seen.owner, verdict.why) };
    }
    if (path.dirname(d) === d) return undefined;
  }
}

class HeldLock implements DirLock {
  private released = false;
  constructor(
    readonly dir: string,
    readonly file: string,
    private readonly text: string,
    private readonly created: string | undefined,
    readonly tookOver?: string,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this);
    try {
      // only our own lock goes (never one that another process holds now)
      if (fs.readFileSync(this.file, "utf8") === this.text) fs.unlinkSync(this.file);
    } catch {
      /* already gone */
    }
    removeCreated(this.dir, this.created);
  }
}

// every lock this process holds, released when it exits (process.exit after a second Ctrl-C)
const held = new Set<HeldLock>();
let exitHook = false;
function registerExitRelease(): void {
  if (exitHook) return;
  exitHook = true;
  process.on("exit", () => {
    for (const l of [...held]) l.release();
  });
}

/** This process as an owner. */
export function ownerOfThisProcess(): LockOwner {
  const procStart = processStartTime(process.pid);
  const boot = bootId();
  return {
    pid: process.pid,
    host: os.hostname(),
    started: new Date().toISOString(),
    ...(procStart !== undefined ? { procStart } : {}),
    ...(boot !== undefined ? { boot } : {}),
    command: commandLine(),
  };
}

/** A process's start time (clock ticks after boot, /proc/<pid>/stat field 22); undefined without /proc. */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // the command name (field 2) is in parentheses and may hold spaces or ")": count after the last ")"
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[19]; // field 22 = the 20th after the command name
}

function bootId(): string | undefined {
  try {
    return fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

function commandLine(): string {
  const [, script, ...args] = process.argv;
  const words = [script ? path.basename(script) : "node", ...args];
  const text = words.join(" ");
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/** Whether the recorded owner still runs, and why (the reason completes "…, <why>"). */
function judge(seen: { owner: LockOwner | null; mtimeMs: number }): { alive: boolean; why: string } {
  const o = seen.owner;
  if (o === null) {
    const young = Date.now() - seen.mtimeMs < ABANDONED_MS;
    return young ? { alive: true, why: "being written right now" } : { alive: false, why: "whose lock file could not be read (cut short by a crash)" };
  }
  if (o.host !== os.hostname()) return { alive: true, why: "on another machine" };
  const boot = bootId();
  if (o.boot !== undefined && boot !== undefined && o.boot !== boot) return { alive: false, why: "taken before this machine restarted" };
  if (!processExists(o.pid)) return { alive: false, why: "which is no longer running" };
  if (o.procStart !== undefined) {
    const now = processStartTime(o.pid);
    if (now !== undefined && now !== o.procStart) return { alive: false, why: `which is no longer running (pid ${o.pid} is now another process)` };
  }
  return { alive: true, why: "still running" };
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by another user
  }
}

function describe(o: LockOwner | null): string {
  return o === null ? "an unknown owner" : `pid ${o.pid} on ${o.host} (since ${o.started}: ${o.command})`;
}

function refusal(dir: string, file: string, o: LockOwner | null, why: string): string {
  if (o === null) return `${dir} is being written by another process (its lock file ${file} is ${why}); nothing was written`;
  const who = o.pid === process.pid && o.host === os.hostname() ? "this process" : "another process";
  const base = `${dir} is being written by ${who}: ${describe(o)}`;
  if (o.host !== os.hostname()) return `${base}, on another machine; nothing was written (if no process there writes it any more, delete ${file})`;
  return `${base}; nothing was written (wait for it to finish, or stop it first)`;
}

/** The lock file's text and owner (null when it is not a readable lock), or null when it is gone. */
function readLock(file: string): { text: string; owner: LockOwner | null; mtimeMs: number } | null {
  let text: string;
  let mtimeMs: number;
  try {
    text = fs.readFileSync(file, "utf8");
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  let owner: LockOwner | null = null;
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (Number.isInteger(o.pid) && typeof o.host === "string" && typeof o.started === "string") owner = { command: "", ...o } as LockOwner;
  } catch {
    /* not a readable lock */
  }
  return { text, owner, mtimeMs };
}

/**
 * Creates `file` with `text` unless it exists, atomically: readers never see it half-written.
 * false when it exists. (A file system without hard links gets an exclusive create instead.)
 */
function createExclusive(file: string, text: string): boolean {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  fs.writeFileSync(tmp, text);
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw e;
    try {
      fs.writeFileSync(file, text, { flag: "wx" });
      return true;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw e2;
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Removes a dead owner's lock (`deadText`) under the takeover guard; false when another process
 * was quicker (the caller then tries to create the lock again and judges whoever holds it).
 */
function takeOver(file: string, deadText: string): boolean {
  const guard = `${file}.takeover`;
  for (let i = 0; ; i++) {
    if (createExclusive(guard, `${process.pid}\n`)) break;
    // a guard left by a process killed inside the few statements below
    try {
      if (Date.now() - fs.statSync(guard).mtimeMs > ABANDONED_MS) fs.rmSync(guard, { force: true });
    } catch {
      /* gone meanwhile */
    }
    if (i > 200) throw new Error(`${guard}: another process is taking over this lock; try again`);
    sleep(25);
  }
  try {
    const now = readLock(file);
    if (now === null || now.text !== deadText) return false;
    fs.unlinkSync(file);
    return true;
  } finally {
    fs.rmSync(guard, { force: true });
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Removes the directories `mkdirSync(dir, {recursive})` created (`created`, the topmost), while they are empty. */
function removeCreated(dir: string, created: string | undefined): void {
  if (created === undefined) return;
  const top = path.resolve(created);
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      fs.rmdirSync(d); // only an empty directory
    } catch {
      return;
    }
    if (d === top || path.dirname(d) === d) return;
  }
}
