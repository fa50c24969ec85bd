#!/usr/bin/env node
// Entry point of the `stepwise` command: runs the TypeScript CLI under tsx's loader.
import { register } from "tsx/esm/api";
register();
await import("../src/cli/main.ts");
