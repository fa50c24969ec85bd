/**
 * SPPD tree self-sampling (arXiv 2502.13516 §3; ALGORITHMS.md "SPPD" §1-2).
 *
 * A prefix tree per question: the root holds the prompt tokens, every other node one reasoning
 * step (its text and the tokens the policy generated for it) and a link to its parent, so a shared
 * prefix is stored once. One selection ("path") descends from the root:
 *  1. expand: a node not yet expanded gets `children` candidate next steps, sampled from the
 *     POLICY until the step delimiter (or eos); the expansions of one level are batched across
 *     questions (one `sample` call);
 *  2. score: each new child gets the mean token log-prob of its step under the REFERENCE model,
 *     given its prefix (batched forward passes);
 *  3. choose: softmax over the siblings' scores, one draw from a seeded PRNG;
 *  4. stop at a leaf: a step that does not end with the delimiter (the model said eos, or the
 *     step ran out of tokens), depth `maxDepth`, `maxTokens` response tokens, or a full context.
 * `paths` selections run per question (paper: K = 64, C = 2).
 *
 * Reuse (Stepwise's choice): a node is expanded ONCE; later selections that reach it choose again
 * among its existing children. The tree stays a prefix tree with at most `children` branches per
 * node, and siblings (the step-DPO pairs) are compared under one shared prefix. A selection may
 * end at a leaf an earlier one reached: `tree.paths` lists the leaf of every selection (length
 * `paths`), `node.visits` counts selections through a node. Identical sibling samples are merged.
 *
 * Values (§2, the self-contained replacement for the paper's PRM): with `valueRollouts` K > 0,
 * every expanded step that is not a leaf gets the Monte Carlo value of its prefix, the fraction of
 * K policy completions from it that are correct (src/rl/prefix-rollouts.ts; graded in steps of
 * 1/K, and a sibling no selection entered is valued too). Without, the value of a node is the
 * fraction of correct leaves among the DISTINCT leaves below it; a node no selection descended
 * through has no leaf below: value NaN (never paired). A leaf's value is its verifier result.
 * A probe's value can replace either: pass `values` to `stepPairs`.
 */
import { sample as modelSample } from "../model/sample.js";
import { seededRandom } from "../random.js";
import type { Tokenizer } from "../tokenizer/types.js";
import { stopTokenIds } from "../train/context.js";
import { monteCarloValues, type PrefixItem } from "./prefix-rollouts.js";
import { continuationLogprobs, type SampleFn, type ScoringModel } from "./probes.js";

export interface TreeNode {
  id: number;
  /** -1 for the root */
  parent: number;
  /** root 0; the node for step k has depth k + 1 */
  depth: number;
  /** the step's text ("" for the root) */
  text: string;
  /** the step's tokens (root: the prompt tokens, bos included) */
  tokens: number[];
  children: number[];
  /** mean token log-prob of the step (its actionTokens) under the reference model (root: 0) */
  refScore: number;
  /** summed token log-prob of the step under the reference model (root: 0) */
  refLogp: number;
  /** true for a leaf: the response ends here */
  final: boolean;
  /** a leaf that ended without a final step (step token budget, depth or context ran out) */
  truncated: boolean;
  /** the policy ended the response with a stop token right after this step (it belongs to the action) */
  eos: boolean;
  /** that stop token's id (eos, or an end-of-turn token); absent: the tree's eosId */
  stopToken?: number;
  /** a leaf's verifier result; NaN for inner nodes */
  correct: number;
  /** Monte Carlo value: fraction of correct distinct leaves below (NaN: none below) */
  value: number;
  /** distinct leaves below (a leaf: 1) */
  leaves: number;
  /** selections that passed through this node */
  visits: number;
}

export interface Tree {
  prompt: string;
  reference: string;
  /** nodes[0] is the root; a child's id is larger than its parent's */
  nodes: TreeNode[];
  /** the leaf each selection reached, in order (length = opts.paths) */
  paths: number[];
  /** the tokenizer's eos id (see actionTokens) */
  eosId: number;
  /** Monte Carlo values (valueRollouts > 0): the tokens sampled for them in this tree */
  valueTokens?: number;
}

export interface TreeOptions<M> {
  /** C: candidate next steps per expanded node (paper: 2) */
  children: number;
  /** K: selections per question (paper: 64) */
  paths: number;
  /** policy sampling temperature for the expansions */
  temperature: number;
  /** token budget of one step */
  maxStepTokens: number;
  /** most steps in a response */
  maxDepth: number;
  /** most tokens in a response, all steps together (default: only the model's context limits it) */
  maxTokens?: number;
  /** the step delimiter, e.g. "\n" */
  delimiter: string;
  /** 1 when the response text's answer matches the reference (the task's verifier) */
  verify: (responseText: string, reference: string) => number;
  seed: number;
  /** prompt tokens start with bos (default: tokenizer.addBos, true when absent: the trainer's convention) */
  bos?: boolean;
  /** rows per reference forward pass */
  chunk?: number;
  /** the batched sampler (default src/model/sample.ts) */
  sample?: SampleFn<M>;
  /**
   * Monte Carlo completions from every expanded step for its value (the fraction correct); 0 or
   * absent: the fraction of correct leaves below (NaN for a step no selection entered)
   */
  valueRollouts?: number;
}

/**
 * Grow one tree per question.
 * @example
 * const trees = await sampleTree(policy, ref, tok, problems.map((p) => ({ prompt: p.prompt, reference: p.reference })),
 *   { children: 2, paths: 8, temperature: 1, maxStepTokens: 24, maxDepth: 12, delimiter: "\n", verify: task.verify, seed: 1 });
 */
export async function sampleTree<M extends ScoringModel>(
  policy: M,
  reference: ScoringModel,
  tokenizer: Tokenizer,
  questions: { prompt: string; reference: string }[],
  opts: TreeOptions<M>,
): Promise<Tree[]> {
  validate(opts);
  const sample = opts.sample ?? (modelSample as unknown as SampleFn<M>);
  const ctx = policy.config.contextLength;
  const rand = seededRandom(opts.seed);
  const decode = (ids: number[]) => tokenizer.decode(ids);
  let calls = 0;

  const trees: Tree[] = questions.map((q) => {
    const tokens = [...(opts.bos ?? tokenizer.addBos ?? true ? [tokenizer.bosId] : []), ...tokenizer.encode(q.prompt)];
    if (tokens.length >= ctx) throw new Error(`sampleTree: the prompt "${q.prompt.slice(0, 40)}..." has ${tokens.length} tokens, the model's context is ${ctx}`);
    return { prompt: q.prompt, reference: q.reference, nodes: [newNode(0, -1, 0, "", tokens)], paths: [], eosId: tokenizer.eosId };
  });
  const prefixLen = (tree: Tree, id: number) => pathTo(tree, id).reduce((n, k) => n + tree.nodes[k].tokens.length, 0);

  for (let round = 0; round < opts.paths; round++) {
    const cur = trees.map(() => 0); // every selection starts at the root
    let active = trees.map((_, q) => q);
    trees.forEach((t) => t.nodes[0].visits++);
    while (active.length > 0) {
      // 1) expand the unexpanded current nodes of all questions in one batched call
      const toExpand = active.filter((q) => trees[q].nodes[cur[q]].children.length === 0 && !trees[q].nodes[cur[q]].final);
      const jobs: { q: number; node: number; prefix: number[]; budget: number }[] = [];
      for (const q of toExpand) {
        const prefix = prefixTokens(trees[q], cur[q]);
        const used = prefix.length - trees[q].nodes[0].tokens.length; // response tokens so far
        const budget = Math.min(opts.maxStepTokens, ctx - prefix.length, (opts.maxTokens ?? Infinity) - used);
        if (budget <= 0) {
          markLeaf(trees[q], cur[q], true, opts);
          continue;
        }
        jobs.push({ q, node: cur[q], prefix, budget });
      }
      // one call per distinct budget (usually one: maxStepTokens)
      const byBudget = new Map<number, typeof jobs>();
      for (const j of jobs) byBudget.set(j.budget, [...(byBudget.get(j.budget) ?? []), j]);
      const created: { q: number; id: number; prefix: number[] }[] = [];
      for (const [budget, group] of byBudget) {
        const prompts = group.flatMap((j) => Array.from({ length: opts.children }, () => j.prefix));
        const results = await sample(policy, prompts, {
          maxNewTokens: budget,
          temperature: opts.temperature,
          stop: [opts.delimiter],
          stopTokens: stopTokenIds(tokenizer),
          seed: opts.seed * 100003 + ++calls,
        }, decode);
        group.forEach((j, g) => {
          const tree = trees[j.q];
          for (let c = 0; c < opts.children; c++) {
            const r = results[g * opts.children + c];
            const parent = tree.nodes[j.node];
            // a step's tokens are its text's; a stop token the sampler ended on is kept apart
            // (`stopToken`, part of the action, see actionTokens)
            const stopped = r.finish === "stop";
            const stepTokens = stopped ? r.tokens.slice(0, -1) : r.tokens;
            // identical sibling samples are one node
            if (parent.children.some((id) => sameTokens(tree.nodes[id].tokens, stepTokens) && tree.nodes[id].eos === stopped)) continue;
            const child = newNode(tree.nodes.length, j.node, parent.depth + 1, r.text, stepTokens);
            tree.nodes.push(child);
            parent.children.push(child.id);
            const endsStep = r.text.endsWith(opts.delimiter) && stepTokens.length > 0;
            const full = j.prefix.length + r.tokens.length >= ctx;
            if (!endsStep || child.depth >= opts.maxDepth || full) {
              // a step that did not end with the delimiter ended the response (eos) unless it ran out of tokens
              markLeaf(tree, child.id, r.truncated || (endsStep && (child.depth >= opts.maxDepth || full)), opts);
            }
            // the model stopped with a stop token (not the delimiter, not a budget): it is part of the action
            child.eos = stopped;
            if (stopped) child.stopToken = r.tokens[r.tokens.length - 1];
            created.push({ q: j.q, id: child.id, prefix: j.prefix });
          }
        });
      }
      // 2) score the new children under the reference: mean token log-prob of the step
      //    (the action's tokens: a step that ended the response with eos includes that eos)
      const contOf = (c: { q: number; id: number }) => actionTokens(trees[c.q], c.id);
      const lps = continuationLogprobs(reference, created.map((c) => ({ context: c.prefix, cont: contOf(c) })), { chunk: opts.chunk, padId: tokenizer.padId });
      created.forEach((c, i) => {
        const node = trees[c.q].nodes[c.id];
        node.refLogp = lps[i].reduce((a, b) => a + b, 0);
        node.refScore = node.refLogp / lps[i].length;
      });
      // 3) choose one child per active question (softmax over sibling scores), descend
      const next: number[] = [];
      for (const q of active) {
        const tree = trees[q];
        const node = tree.nodes[cur[q]];
        if (node.final) {
          tree.paths.push(node.id);
          continue;
        }
        const kids = node.children.map((id) => tree.nodes[id]);
        const chosen = kids[softmaxChoice(kids.map((k) => k.refScore), rand)];
        chosen.visits++;
        cur[q] = chosen.id;
        if (chosen.final) tree.paths.push(chosen.id);
        else next.push(q);
      }
      active = next;
    }
  }
  for (const t of trees) computeValues(t);
  if ((opts.valueRollouts ?? 0) > 0) await monteCarloNodeValues(policy, tokenizer, trees, opts, sample);
  return trees;
}

/**
 * Every expanded step that is not a leaf gets the Monte Carlo value of its prefix: the fraction of
 * `valueRollouts` policy completions from it that are correct (src/rl/prefix-rollouts.ts), in
 * one batched pass over all trees. A leaf's value stays its own verifier result.
 */
async function monteCarloNodeValues<M extends ScoringModel>(policy: M, tokenizer: Tokenizer, trees: Tree[], opts: TreeOptions<M>, sample: SampleFn<M>): Promise<void> {
  const at: { tree: Tree; node: TreeNode }[] = [];
  const items: PrefixItem[] = [];
  for (const tree of trees) {
    const promptLen = tree.nodes[0].tokens.length;
    for (const node of tree.nodes) {
      if (node.id === 0 || node.final) continue;
      const prefix = prefixTokens(tree, node.id);
      at.push({ tree, node });
      items.push({ prefix, text: responseText(tree, node.id), reference: tree.reference, budget: (opts.maxTokens ?? Infinity) - (prefix.length - promptLen) });
    }
  }
  const mc = await monteCarloValues(policy, tokenizer, items, {
    rollouts: opts.valueRollouts!,
    temperature: opts.temperature,
    verify: opts.verify,
    seed: opts.seed * 31 + 17,
    sample,
  });
  for (const t of trees) t.valueTokens = 0;
  at.forEach(({ tree, node }, i) => {
    node.value = mc.values[i]!;
    tree.valueTokens! += mc.tokens[i]!;
  });
}

/** The tokens of a step as an action: its tokens, then the stop token when the policy ended the response with one. */
export function actionTokens(tree: Tree, id: number): number[] {
  const n = tree.nodes[id];
  return n.eos ? [...n.tokens, n.stopToken ?? tree.eosId] : n.tokens;
}

/**
 * The tokens the sampler drew for a tree: the action tokens of every node but the root, chosen or
 * not (its sampling cost, comparable with the response tokens of an RL iteration).
 */
export function treeSampledTokens(tree: Tree): number {
  let n = 0;
  for (let id = 1; id < tree.nodes.length; id++) n += actionTokens(tree, id).length;
  return n;
}

/** Node ids from the root to `id`, inclusive. */
export function pathTo(tree: Tree, id: number): number[] {
  const ids: number[] = [];
  for (let k = id; k >= 0; k = tree.nodes[k].parent) ids.push(k);
  return ids.reverse();
}

/** Prompt tokens followed by the tokens of every step down to `id` (the context that node's children see). */
export function prefixTokens(tree: Tree, id: number): number[] {
  return pathTo(tree, id).flatMap((k) => tree.nodes[k].tokens);
}

/** The response text down to `id`: the step texts after the root, concatenated. */
export function responseText(tree: Tree, id: number): string {
  return pathTo(tree, id).slice(1).map((k) => tree.nodes[k].text).join("");
}

/** Monte Carlo values: fraction of correct distinct leaves below each node (children have larger ids). */
export function computeValues(tree: Tree): void {
  const correct = tree.nodes.map(() => 0);
  const leaves = tree.nodes.map(() => 0);
  for (let id = tree.nodes.length - 1; id >= 0; id--) {
    const n = tree.nodes[id];
    if (n.final) {
      correct[id] += n.correct;
      leaves[id] += 1;
    }
    if (n.parent >= 0) {
      correct[n.parent] += correct[id];
      leaves[n.parent] += leaves[id];
    }
  }
  tree.nodes.forEach((n, id) => {
    n.leaves = leaves[id];
    n.value = leaves[id] > 0 ? correct[id] / leaves[id] : NaN;
  });
}

/** Index drawn from softmax(scores) with `rand` in [0, 1). */
export function softmaxChoice(scores: number[], rand: () => number): number {
  if (scores.length === 1) return 0;
  const m = Math.max(...scores);
  const w = scores.map((s) => Math.exp(s - m));
  const z = w.reduce((a, b) => a + b, 0);
  let u = rand() * z;
  for (let i = 0; i < w.length; i++) {
    u -= w[i];
    if (u < 0) return i;
  }
  return w.length - 1;
}

function newNode(id: number, parent: number, depth: number, text: string, tokens: number[]): TreeNode {
  return { id, parent, depth, text, tokens, children: [], refScore: 0, refLogp: 0, final: false, truncated: false, eos: false, correct: NaN, value: NaN, leaves: 0, visits: 0 };
}

function markLeaf<M>(tree: Tree, id: number, truncated: boolean, opts: TreeOptions<M>): void {
  const n = tree.nodes[id];
  n.final = true;
  n.truncated = truncated;
  n.correct = opts.verify(responseText(tree, id), tree.reference);
}

function sameTokens(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function validate<M>(o: TreeOptions<M>): void {
  if (!(o.children >= 1)) throw new Error(`tree sampler: children must be >= 1 (got ${o.children}); SPPD uses 2`);
  if (!(o.paths >= 1)) throw new Error(`tree sampler: paths must be >= 1 (got ${o.paths})`);
  if (!(o.maxStepTokens >= 1)) throw new Error(`tree sampler: maxStepTokens must be >= 1 (got ${o.maxStepTokens})`);
  if (!(o.maxDepth >= 1)) throw new Error(`tree sampler: maxDepth must be >= 1 (got ${o.maxDepth})`);
  if (o.delimiter.length === 0) throw new Error('tree sampler: the step delimiter is empty; use e.g. "\\n"');
}
