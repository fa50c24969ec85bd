// `npm run build` (also run by `prepare`, so `npm install` in a clone builds): compiles src/, dsl/
// and kernel/ to dist/ (ESM JavaScript and .d.ts, tsconfig.build.json), then adds what tsc does not:
//   dist/dsl/prelude.sw                    the prelude's source, read at run time (dsl/prelude.ts)
//   dist/src/compile/python/*.py           the Python modules `stepwise compile` copies into its packages
//   dist/vendor/tfjs-core-gradients.cjs    tfjs-core's register_all_gradients bundled by esbuild:
//       its ESM files import each other without extensions, which plain Node cannot resolve
//       (under tsx, src/backend/gradients.ts requires the original instead).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "package.json"));
const dist = join(root, "dist");

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
copyFileSync(join(root, "dsl", "prelude.sw"), join(dist, "dsl", "prelude.sw"));
const python = join(root, "src", "compile", "python");
mkdirSync(join(dist, "src", "compile", "python"), { recursive: true });
for (const f of readdirSync(python).filter((f) => f.endsWith(".py"))) copyFileSync(join(python, f), join(dist, "src", "compile", "python", f));
mkdirSync(join(dist, "vendor"), { recursive: true });
const esbuild = await import("esbuild");
await esbuild.build({
  entryPoints: [require.resolve("@tensorflow/tfjs-core/dist/register_all_gradients.js")],
  bundle: true,
  platform: "node",
  format: "cjs",
  outfile: join(dist, "vendor", "tfjs-core-gradients.cjs"),
  logLevel: "warning",
});
