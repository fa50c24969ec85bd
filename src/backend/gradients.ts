/**
 * Registers tfjs-core's gradient functions (tf.grad, tf.variableGrads, optimizer.minimize).
 *
 * Why not `import "@tensorflow/tfjs-core/dist/register_all_gradients.js"`: under Node's ESM
 * loader that file fails (its own imports are extensionless), and the CommonJS bundle that
 * `@tensorflow/tfjs-core` resolves to carries no gradients. Loading it through `require` lets
 * tsx's CommonJS hook resolve the extensionless imports; the gradients land in tfjs's global
 * registry, which every copy of tfjs-core in the process shares. Idempotent (require caches).
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
require("@tensorflow/tfjs-core/dist/register_all_gradients.js");
