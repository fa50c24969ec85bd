/**
 * Registers tfjs-core's gradient functions (tf.grad, tf.variableGrads, optimizer.minimize).
 *
 * Why not `import "@tensorflow/tfjs-core/dist/register_all_gradients.js"`: under Node's ESM
 * loader that file fails (its own imports are extensionless), and the CommonJS bundle that
 * `@tensorflow/tfjs-core` resolves to carries no gradients. So:
 *  - built (dist/src/backend/gradients.js): `npm run build` bundled that file with esbuild into
 *    dist/vendor/tfjs-core-gradients.cjs (scripts/build.mjs), which plain Node loads;
 *  - from sources under tsx: `require` of the original, whose extensionless imports tsx's
 *    CommonJS hook resolves.
 * Either way the gradients land in tfjs's global registry, which every copy of tfjs-core in the
 * process shares (as does the engine). Idempotent (require caches).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const bundled = fileURLToPath(new URL("../../vendor/tfjs-core-gradients.cjs", import.meta.url));
require(existsSync(bundled) ? bundled : "@tensorflow/tfjs-core/dist/register_all_gradients.js");
