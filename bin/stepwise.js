#!/usr/bin/env node
// Entry point of the `stepwise` command: runs the TypeScript CLI under tsx's loaders. Both hooks:
// the ESM one for our sources, the CommonJS one for src/backend/gradients.ts, which require()s
// tfjs-core's ESM-syntax dist files with extensionless imports (plain Node cannot resolve them).
import { register } from "tsx/esm/api";
import { register as registerCjs } from "tsx/cjs/api";
register();
registerCjs();
await import("../src/cli/main.ts");
