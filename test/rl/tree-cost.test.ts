/** A tree's sampling cost (treeSampledTokens), counted by hand. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { treeSampledTokens, type Tree, type TreeNode } from "../../src/rl/tree.js";

test("treeSampledTokens: every non-root node's step tokens, chosen or not, plus the stop token where the policy stopped", () => {
  const node = (id: number, parent: number, tokens: number[], eos = false): TreeNode =>
    ({ id, parent, depth: parent < 0 ? 0 : 1, text: "", tokens, children: [], refScore: 0, refLogp: 0, final: eos, truncated: false, eos, correct: NaN, value: NaN, leaves: 0, visits: 0 }) as TreeNode;
  const tree: Tree = {
    prompt: "Q\n",
    reference: "1",
    eosId: 99,
    paths: [3],
    // root (the prompt: not sampled), two siblings of 3 and 2 tokens, a child of the first of 4 tokens that stopped
    nodes: [node(0, -1, [1, 2, 3, 4, 5]), node(1, 0, [6, 7, 8]), node(2, 0, [9, 10]), node(3, 1, [11, 12, 13, 14], true)],
  };
  assert.equal(treeSampledTokens(tree), 3 + 2 + 4 + 1);
  assert.equal(treeSampledTokens({ ...tree, nodes: tree.nodes.slice(0, 1) }), 0);
});
