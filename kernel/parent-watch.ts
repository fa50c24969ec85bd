/**
 * A kernel whose client died must not live on as an orphan (holding its ports, its memory and a
 * run's CPU). Jupyter starts a kernel as its child and names itself in JPY_PARENT_PID; when the
 * parent goes, the kernel is re-parented (its ppid changes, to 1 or a subreaper) or the named
 * process no longer exists. Checked once a second; the timer does not keep the process alive.
 */

/** Whether a process exists (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/** Calls `onGone(why)` once when the parent process is gone; returns a function that stops watching. */
export function watchParent(onGone: (why: string) => void, intervalMs = 1000): () => void {
  const ppid = process.ppid;
  const named = Number(process.env.JPY_PARENT_PID);
  const timer = setInterval(() => {
    let why: string | null = null;
    if (process.ppid !== ppid) why = `parent process ${ppid} is gone (now a child of ${process.ppid})`;
    else if (Number.isInteger(named) && named > 1 && !alive(named)) why = `JPY_PARENT_PID ${named} is gone`;
    if (why) {
      clearInterval(timer);
      onGone(why);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
