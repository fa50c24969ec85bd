#!/bin/sh
# esbuild's service (tsx's transformer in the kernel) in a process group of its own.
#
# Jupyter interrupts a kernel with `interrupt_mode: "signal"` by sending SIGINT to the kernel's
# whole process group (jupyter_client's os.killpg). tsx's esbuild service is a child of the
# kernel; without this it dies on the first interrupt, and every later cell that loads a module
# not yet compiled fails with "TransformError: The service is no longer running".
# The kernelspec (src/cli/kernel-install.ts) points ESBUILD_BINARY_PATH here. setsid execs in
# place (a child of node is not a group leader), so esbuild keeps its stdin pipe and still exits
# when the kernel does.
real="$(dirname "$0")/../node_modules/esbuild/bin/esbuild"
if command -v setsid >/dev/null 2>&1; then exec setsid "$real" "$@"; fi
exec "$real" "$@"
