import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { CharTokenizer } from "../../src/tokenizer/chars.js";
import { Transformer } from "../../src/model/transformer.js";
import { gptConfig } from "../../src/model/config.js";
import { actionTokens, pathTo, responseText, sampleTree, softmaxChoice, type Tree, type TreeOptions } from "../../src/rl/tree.js";
import { leafResponses, pairLogprobs, stepPairs, trajectoryPairs } from "../../src/rl/pairs.js";
import { continuationLogprobs, type SampleFn } from "../../src/rl/probes.js";
import { stepDpoLoss } from "../../src/rl/objectives.js";
import type { SampleResult } from "../../src/model/types.js";
import { StandInModel } from "./standin-model.js";

before(async () => {
  await initBackend({ backend: "cpu" }); // exact numbers; gradients registered by the backend module
});

const tok = new CharTokenizer();
const near = (a: number, b: number, tol = 1e-4) => assert.ok(Math.abs(a - b) < tol, `${a} != ${b}`);

/**
 * A scripted policy: after d steps, candidate c (c = 0, 1, ...) is the step "s<d><c>\n" for
 * d < 2 and the final "answer <c>" (ended by eos) at d = 2. Answer "1" is correct. Records calls.
 */
function scripted(calls: number[][][]): SampleFn<StandInModel> {
  const seen = new Map<string, number>();
  return (_model, prompts) => {
    calls.push(prompts);
    return prompts.map((p): SampleResult => {
      const key = p.join(",");
      const c = seen.get(key) ?? 0; // c-th sample from this prefix
      seen.set(key, c + 1);
      const d = (tok.decode(p).match(/\n/g) ?? []).length - 1; // the prompt has one "\n"
      const text = d < 2 ? `s${d}${c % 2}\n` : `answer ${c % 2}`;
      // the sampler's contract: a stop token ends `tokens`, a stop string ends `text`
      const tokens = d < 2 ? tok.encode(text) : [...tok.encode(text), tok.eosId];
      return { tokens, text, logp: tokens.map(() => -1), entropy: tokens.map(() => 1), truncated: false, finish: d < 2 ? "stop_string" : "stop" };
    });
  };
}

const verify = (response: string, reference: string) => (response.trim().endsWith(`answer ${reference}`) ? 1 : 0);
const questions = [
  { prompt: "Q: 1+0\n", reference: "1" },
  { prompt: "Q: 2-1\n", reference: "1" },
  { prompt: "Q: 3-2\n", reference: "1" },
];
const baseOpts = (sample: SampleFn<StandInModel>, over: Partial<TreeOptions<StandInModel>> = {}): TreeOptions<StandInModel> => ({
  children: 2,
  paths: 6,
  temperature: 1,
  maxStepTokens: 12,
  maxDepth: 8,
  delimiter: "\n",
  verify,
  seed: 11,
  sample,
  ...over,
});

/** Monte Carlo value by brute force: distinct leaves whose path contains the node. */
function bruteValue(tree: Tree, id: number): number {
  const leaves = tree.nodes.filter((n) => n.final && pathTo(tree, n.id).includes(id));
  return leaves.length === 0 ? NaN : leaves.filter((n) => n.correct === 1).length / leaves.length;
}

test("tree invariants: prefixes stored once, `paths` leaves per question, values are leaf fractions", async () => {
  const model = new StandInModel(tok.vocabSize, 64, 2);
  const calls: number[][][] = [];
  const trees = await sampleTree(model, model, tok, questions, baseOpts(scripted(calls)));
  assert.equal(trees.length, 3);
  // the first level's expansions of all three questions are one batched call: 3 x 2 prompts
  assert.equal(calls[0].length, 6);
  for (const tree of trees) {
    // `paths` selections, each ending at a final leaf
    assert.equal(tree.paths.length, 6);
    for (const leaf of tree.paths) assert.ok(tree.nodes[leaf].final);
    assert.equal(tree.nodes[0].visits, 6);
    // shared prefixes stored once: every node is a distinct response prefix, holding only its own step
    const prefixes = tree.nodes.map((n) => responseText(tree, n.id));
    assert.equal(new Set(prefixes).size, tree.nodes.length);
    for (const n of tree.nodes.slice(1)) {
      assert.deepEqual(n.tokens, tok.encode(n.text));
      assert.ok(n.depth === tree.nodes[n.parent].depth + 1);
    }
    // a node is expanded once: at most `children` children (the script gives 2 distinct ones)
    for (const n of tree.nodes) assert.ok(n.children.length === 0 || n.children.length === 2);
    assert.ok(tree.nodes.length <= 1 + 2 + 4 + 8);
    // values: fraction of correct distinct leaves below; leaves: their verifier result
    for (const n of tree.nodes) {
      const v = bruteValue(tree, n.id);
      if (Number.isNaN(v)) assert.ok(Number.isNaN(n.value));
      else near(n.value, v, 1e-12);
      if (n.final) assert.equal(n.correct, verify(responseText(tree, n.id), tree.reference));
    }
    // the final step ended with eos: it is part of the action
    const leaf = tree.nodes[tree.paths[0]];
    assert.ok(leaf.eos);
    assert.deepEqual(actionTokens(tree, leaf.id), [...leaf.tokens, tok.eosId]);
    // children scored under the reference: mean token log-prob of the action
    const parent = tree.nodes[leaf.parent];
    const lp = continuationLogprobs(model, [{ context: pathTo(tree, parent.id).flatMap((k) => tree.nodes[k].tokens), cont: actionTokens(tree, leaf.id) }])[0];
    near(leaf.refScore, lp.reduce((a, b) => a + b, 0) / lp.length);
  }
  // same seed, same trees
  const again = await sampleTree(model, model, tok, questions, baseOpts(scripted([])));
  assert.deepEqual(again.map((t) => t.paths), trees.map((t) => t.paths));
  model.dispose();
});

test("maxDepth ends a selection at a truncated leaf", async () => {
  const model = new StandInModel(tok.vocabSize, 64, 2);
  const trees = await sampleTree(model, model, tok, questions.slice(0, 1), baseOpts(scripted([]), { maxDepth: 1, paths: 3 }));
  const t = trees[0];
  assert.equal(t.paths.length, 3);
  for (const id of t.paths) {
    assert.equal(t.nodes[id].depth, 1);
    assert.ok(t.nodes[id].truncated);
    assert.equal(t.nodes[id].value, 0);
  }
  model.dispose();
});

test("maxTokens bounds the whole response", async () => {
  const model = new StandInModel(tok.vocabSize, 64, 2);
  // steps "s00\n" are 4 tokens: with 6 response tokens the second step gets a budget of 2 and is cut
  const calls: number[][][] = [];
  const budgets: number[] = [];
  const sample: SampleFn<StandInModel> = (m, prompts, o, d) => {
    budgets.push(o.maxNewTokens);
    const full = scripted(calls)(m, prompts, o, d) as SampleResult[];
    return full.map((r) => {
      if (r.tokens.length <= o.maxNewTokens) return r;
      const tokens = r.tokens.slice(0, o.maxNewTokens);
      return { ...r, tokens, text: tok.decode(tokens), truncated: true };
    });
  };
  const [t] = await sampleTree(model, model, tok, questions.slice(0, 1), baseOpts(sample, { maxTokens: 6, paths: 2 }));
  assert.deepEqual([...new Set(budgets)], [6, 2]); // min(maxStepTokens 12, 6 - 0), then 6 - 4
  for (const id of t.paths) {
    assert.ok(t.nodes[id].truncated);
    assert.ok(responseText(t, id).length <= 6);
  }
  model.dispose();
});

test("softmaxChoice follows the softmax of the scores", () => {
  // scores ln 1, ln 3: probabilities 1/4, 3/4; u * z with z = 4 (after subtracting the max: 1/3, 1 -> z = 4/3)
  const s = [0, Math.log(3)];
  assert.equal(softmaxChoice(s, () => 0.2), 0); // 0.2 < 0.25
  assert.equal(softmaxChoice(s, () => 0.3), 1);
  let ones = 0;
  let x = 0.5;
  for (let i = 0; i < 4000; i++) {
    x = (x * 9301 + 49297) % 233280;
    if (softmaxChoice(s, () => x / 233280) === 1) ones++;
  }
  near(ones / 4000, 0.75, 0.03);
});

/** A tree built by hand: root with children A (value 1), B (0.25), C (0.5), and A with children D (1), E (NaN). */
function handTree(): Tree {
  const node = (id: number, parent: number, text: string, value: number, children: number[] = []) => ({
    id, parent, depth: parent < 0 ? 0 : 1, text, tokens: tok.encode(text), children, refScore: 0, refLogp: -id,
    final: false, truncated: false, eos: false, correct: NaN, value, leaves: 1, visits: 1,
  });
  return {
    prompt: "Q\n",
    reference: "1",
    eosId: tok.eosId,
    paths: [],
    nodes: [node(0, -1, "", 0.5, [1, 2, 3]), node(1, 0, "a\n", 1, [4, 5]), node(2, 0, "b\n", 0.25), node(3, 0, "c\n", 0.5), node(4, 1, "d\n", 1), node(5, 1, "e\n", NaN)],
  };
}

test("stepPairs: sibling pairs whose values differ by more than the threshold", () => {
  const t = handTree();
  t.nodes[0].tokens = [tok.bosId, ...tok.encode("Q\n")];
  // threshold 0.5: A-B (0.75) only; A-C is exactly 0.5 (not more); D-E has no value
  const p5 = stepPairs(t, 0.5);
  assert.deepEqual(p5.map((p) => [p.nodeW, p.nodeL]), [[1, 2]]);
  assert.deepEqual(p5[0].prefixTokens, t.nodes[0].tokens);
  assert.deepEqual(p5[0].winTokens, tok.encode("a\n"));
  assert.equal(p5[0].vW - p5[0].vL, 0.75);
  assert.equal(p5[0].refW, -1);
  // threshold 0.2: A-B, A-C, C-B (winner first)
  const p2 = stepPairs(t, 0.2);
  assert.deepEqual(p2.map((p) => [p.nodeW, p.nodeL]), [[1, 2], [1, 3], [3, 2]]);
  for (const p of p2) assert.ok(p.vW - p.vL > 0.2);
  // a probe's values instead of the MC values
  const byProbe = stepPairs(t, 0.5, (n) => (n.id === 5 ? 0 : n.value));
  assert.deepEqual(byProbe.map((p) => [p.nodeW, p.nodeL]), [[1, 2], [4, 5]]);
  assert.deepEqual(byProbe[1].prefixTokens, [...t.nodes[0].tokens, ...tok.encode("a\n")]);
  assert.equal(byProbe[1].prefixText, "a\n");
});

test("pairs from a sampled tree respect the threshold; pair log-probs match the tree's reference scores", async () => {
  const model = new StandInModel(tok.vocabSize, 64, 4);
  const trees = await sampleTree(model, model, tok, questions, baseOpts(scripted([]), { paths: 8 }));
  let total = 0;
  for (const tree of trees) {
    const pairs = stepPairs(tree, 0.3);
    // brute force: every sibling pair with |dV| > 0.3
    let expected = 0;
    for (const n of tree.nodes) {
      for (let a = 0; a < n.children.length; a++)
        for (let b = a + 1; b < n.children.length; b++) {
          const d = Math.abs(tree.nodes[n.children[a]].value - tree.nodes[n.children[b]].value);
          if (d > 0.3) expected++;
        }
    }
    assert.equal(pairs.length, expected);
    for (const p of pairs) {
      assert.ok(p.vW - p.vL > 0.3);
      assert.equal(tree.nodes[p.nodeW].parent, tree.nodes[p.nodeL].parent);
    }
    total += pairs.length;
    if (pairs.length > 0) {
      const { logpW, logpL } = pairLogprobs(model, pairs, { padId: tok.padId, bosId: tok.bosId });
      const w = Array.from(logpW.dataSync());
      const l = Array.from(logpL.dataSync());
      pairs.forEach((p, i) => {
        near(w[i], p.refW);
        near(l[i], p.refL);
      });
      tf.dispose([logpW, logpL]);
    }
    // leaves and trajectory pairs
    const leaves = leafResponses(tree);
    assert.equal(leaves.length, tree.nodes.filter((n) => n.final).length);
    for (const tp of trajectoryPairs(tree, 3)) {
      assert.equal(tp.vW, 1);
      assert.equal(tp.vL, 0);
      assert.equal(tp.winTokens[tp.winTokens.length - 1], tok.eosId);
    }
  }
  assert.ok(total > 0, "the scripted trees hold at least one pair");
  model.dispose();
});

test("one step-DPO update on tree pairs raises the chosen steps relative to the rejected ones", async () => {
  const policy = new StandInModel(tok.vocabSize, 64, 4);
  const trees = await sampleTree(policy, policy, tok, questions, baseOpts(scripted([]), { paths: 8 }));
  const pairs = trees.flatMap((t) => stepPairs(t, 0.3));
  const margin = () =>
    tf.tidy(() => {
      const { logpW, logpL } = pairLogprobs(policy, pairs, { padId: tok.padId });
      return tf.sum(tf.sub(logpW, logpL)).dataSync()[0];
    });
  const before = margin();
  const vars = [policy.emb, policy.out, policy.bigram];
  const { value, grads } = tf.variableGrads(() => {
    const { logpW, logpL } = pairLogprobs(policy, pairs, { padId: tok.padId });
    return stepDpoLoss({ logpW, logpL, logpRefW: pairs.map((p) => p.refW), logpRefL: pairs.map((p) => p.refL), vW: pairs.map((p) => p.vW), vL: pairs.map((p) => p.vL) }, { beta: 0.5, gamma: 1, marginSign: 1 });
  }, vars);
  assert.ok(Number.isFinite(value.dataSync()[0]));
  for (const v of vars) v.assign(tf.sub(v, tf.mul(0.5, grads[v.name])));
  assert.ok(margin() > before, "sum of (logp_w - logp_l) grows");
  tf.dispose([value, ...Object.values(grads)]);
  policy.dispose();
});

test("with the real Transformer and sampler: invariants hold", async () => {
  const config = gptConfig({ vocabSize: tok.vocabSize, contextLength: 40, layers: 1, width: 16, heads: 2, seed: 3 });
  const policy = Transformer.create(config);
  const ref = policy.clone();
  const before = tf.memory().numTensors;
  const trees = await sampleTree(policy, ref, tok, questions.slice(0, 2), {
    children: 2, paths: 3, temperature: 1, maxStepTokens: 6, maxDepth: 3, delimiter: "\n", verify, seed: 5,
  });
  for (const tree of trees) {
    assert.equal(tree.paths.length, 3);
    assert.equal(new Set(tree.nodes.map((n) => responseText(tree, n.id))).size, tree.nodes.length);
    for (const n of tree.nodes) {
      assert.ok(n.children.length <= 2);
      assert.ok(n.depth <= 3);
      if (n.id > 0) assert.ok(n.tokens.length <= 6 && Number.isFinite(n.refScore));
      const v = bruteValue(tree, n.id);
      if (!Number.isNaN(v)) near(n.value, v, 1e-12);
    }
  }
  assert.equal(tf.memory().numTensors, before, "the sampler leaves no tensors behind");
  policy.dispose();
  ref.dispose();
});

/**
 * The scripted policy for steps (as above), plus complete responses when asked without a step
 * delimiter (a Monte Carlo completion from a prefix): the r-th completion from a prefix is correct
 * when r % 4 < 3 after a step ending in "1\n" and when r % 4 < 1 otherwise, so with 4 rollouts
 * a step "s?1\n" has value 3/4 and a step "s?0\n" 1/4.
 */
function scriptedWithRollouts(rolloutPrompts: number[][][]): SampleFn<StandInModel> {
  const steps = scripted([]);
  const seen = new Map<string, number>();
  return (model, prompts, o, d) => {
    if (o.stop?.length) return steps(model, prompts, o, d);
    rolloutPrompts.push(prompts);
    return prompts.map((p, i): SampleResult => {
      const key = p.join(",");
      const r = seen.get(key) ?? 0;
      seen.set(key, r + 1);
      const good = tok.decode(p).endsWith("1\n") ? r % 4 < 3 : r % 4 < 1;
      const text = `more\nanswer ${good ? 1 : 0}`.slice(0, o.budgets?.[i] ?? Infinity);
      const tokens = [...tok.encode(text), tok.eosId];
      return { tokens, text, logp: tokens.map(() => -1), entropy: tokens.map(() => 1), truncated: false, finish: "stop" };
    });
  };
}

test("value_rollouts: every expanded step gets a Monte Carlo value, graded in steps of 1/K, from one batched pass", async () => {
  const model = new StandInModel(tok.vocabSize, 64, 2);
  const rolloutCalls: number[][][] = [];
  const trees = await sampleTree(model, model, tok, questions, baseOpts(scriptedWithRollouts(rolloutCalls), { valueRollouts: 4, paths: 2 }));
  assert.equal(rolloutCalls.length, 1, "all prefixes of all trees in one batched call");
  let inner = 0;
  for (const tree of trees) {
    for (const n of tree.nodes.slice(1)) {
      assert.ok(Number.isFinite(n.value), `node ${n.id} ("${responseText(tree, n.id)}") has a value`);
      if (n.final) assert.equal(n.value, n.correct, "a leaf's value is its verifier result");
      else {
        // graded: 3/4 after a step ending in 1, 1/4 after one ending in 0 (the script above)
        assert.equal(n.value, n.text.endsWith("1\n") ? 0.75 : 0.25);
        inner++;
      }
    }
    // siblings no selection entered are valued too: with 2 paths, some expanded steps have no leaf below
    assert.ok(tree.nodes.some((n) => !n.final && n.id > 0 && n.leaves === 0 && Number.isFinite(n.value)));
    assert.ok((tree.valueTokens ?? 0) > 0);
  }
  const expanded = trees.reduce((a, t) => a + t.nodes.filter((n) => n.id > 0 && !n.final).length, 0);
  assert.equal(inner, expanded);
  assert.equal(rolloutCalls[0]!.length, 4 * expanded, "K = 4 completions per expanded step");
  // the graded values make pairs with a gap of 0.5: SPPD's margin is no longer 0 or 1
  const pairs = trees.flatMap((t) => stepPairs(t, 0.4));
  assert.ok(pairs.some((p) => Math.abs(p.vW - p.vL - 0.5) < 1e-12));
  model.dispose();
});
