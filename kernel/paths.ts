/** Where the kernel finds this package, whatever the notebook's working directory (see src/package-info.ts). */
export { PACKAGE_ROOT as REPO_ROOT } from "../src/package-info.js";
