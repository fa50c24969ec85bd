/** The kernel's own log: the real stderr, saved before cells' streams are redirected to iopub. */
const write = process.stderr.write.bind(process.stderr);

export function kernelLog(message: string): void {
  write(`stepwise kernel: ${message}\n`);
}
