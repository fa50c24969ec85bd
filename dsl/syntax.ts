/**
 * Source text → AST, with positioned diagnostics and error recovery.
 *
 * Recovery strategy: the token stream is cut into declarations before parsing. A declaration
 * starts at a declaration keyword (`model`, `reward`, `use`, …) that is the first token on its
 * line and outside brackets, or at column 1 whatever the brackets (so an unclosed `{` swallows
 * nothing past the next line that starts a declaration). Each piece is parsed on its own: a
 * broken declaration gives one precise error and the others are still checked.
 */
import type { IRecognitionException, IToken, TokenType } from "chevrotain";
import { closest, DiagnosticBag, didYouMean, type Span } from "./diagnostics.js";
import * as T from "./lexer.js";
import { parser } from "./parser.js";
import { astBuilder, tokenSpan } from "./visitor.js";
import type { Comment, Decl, Spec } from "./ast.js";

export interface ParseResult {
  spec: Spec;
  /** lexer and parser errors (the checker adds its own later) */
  bag: DiagnosticBag;
  /** the lexer's tokens (comments excluded), for the formatter */
  tokens: IToken[];
}

const DECL_START = new Set<TokenType>(T.DECLARATION_KEYWORDS);
const DECL_WORDS = T.DECLARATION_KEYWORDS.map((t) => String(t.PATTERN).slice(1, -1));

/** Human names of tokens, for "expected …" messages. */
const TOKEN_NAMES: Record<string, string> = {
  RBrace: "`}`", LBrace: "`{`", RParen: "`)`", LParen: "`(`", Comma: "`,`", Colon: "`:`", Equals: "`=`",
  DotDot: "`..`", Identifier: "a name", StringLit: "a string", NumberLit: "a number", RegexLit: "a regex",
  Then: "`then`", Else: "`else`", Keyword: "a name", EOF: "the end of the declaration",
};

/** What each grammar rule expects when none of its alternatives matches. */
const RULE_EXPECTS: Record<string, string> = {
  spec: "a declaration",
  declaration: `a declaration (${DECL_WORDS.join(", ")})`,
  componentArg: "a string, a /regex/ or a number",
  block: "a setting name or `}`",
  setting: "a setting value",
  name: "a name",
  modifier: "`over` or `by`",
  stage: "a training stage (sft, rl, dpo, step_dpo)",
  valueDecl: "`reward` or `let`",
  expression: "a formula (a number, a name, `(`, `-`, `not` or `if`)",
  ifExpr: "a formula",
  orExpr: "a formula",
  andExpr: "a formula",
  notExpr: "a formula",
  compareExpr: "a formula",
  additiveExpr: "a formula",
  multiplicativeExpr: "a formula",
  unaryExpr: "a formula",
  powerExpr: "a formula",
  atom: "a formula (a number, a name, `(`, `-`, `not` or `if`)",
  reference: "a name",
  callArgs: "a formula",
};

function isEof(t: IToken | undefined): boolean {
  return !t || t.tokenType?.name === "EOF" || Number.isNaN(t.startOffset);
}

/** Cuts the token stream into declaration-sized pieces (see the module comment). */
export function splitDeclarations(tokens: IToken[]): IToken[][] {
  const chunks: IToken[][] = [];
  let cur: IToken[] = [];
  let depth = 0;
  let lastLine = 0;
  let inMethod = false;
  for (const t of tokens) {
    const firstOnLine = (t.startLine ?? 0) > lastLine;
    lastLine = t.endLine ?? t.startLine ?? lastLine;
    // A misspelt keyword at column 1 (`rewad x = 1`) also starts a declaration, so it is reported as itself.
    const misspelt = t.tokenType === T.Identifier && t.startColumn === 1 && closest(t.image, DECL_WORDS) !== undefined;
    const starts =
      firstOnLine &&
      cur.length > 0 &&
      ((DECL_START.has(t.tokenType) && (depth <= 0 || (t.startColumn === 1 && (!inMethod || t.tokenType === T.Method)))) ||
        (misspelt && (depth <= 0 || !inMethod)));
    if (starts) {
      chunks.push(cur);
      cur = [];
      depth = 0;
    }
    if (cur.length === 0) inMethod = t.tokenType === T.Method;
    cur.push(t);
    if (t.tokenType === T.LBrace || t.tokenType === T.LParen) depth++;
    else if (t.tokenType === T.RBrace || t.tokenType === T.RParen) depth--;
  }
  if (cur.length > 0) chunks.push(cur);
  return chunks;
}

function pointAfter(t: IToken): Span {
  const line = t.endLine ?? t.startLine ?? 1;
  const column = (t.endColumn ?? t.startColumn ?? 0) + 1;
  const offset = (t.endOffset ?? t.startOffset) + 1;
  return { line, column, endLine: line, endColumn: column + 1, offset, endOffset: offset + 1 };
}

function describe(t: IToken): string {
  return t.image.length > 30 ? `\`${t.image.slice(0, 30)}…\`` : `\`${t.image}\``;
}

function reportParseError(bag: DiagnosticBag, e: IRecognitionException, chunk: IToken[], atFileEnd: boolean): void {
  const found = isEof(e.token) ? undefined : e.token;
  const span = found ? tokenSpan(found) : pointAfter(chunk[chunk.length - 1]!);
  const foundText = found ? describe(found) : atFileEnd ? "the end of the file" : "the end of the declaration";
  const rules = e.context?.ruleStack ?? [];
  const rule = rules[rules.length - 1] ?? "declaration";
  let expected: string;
  const mismatch = /--> (\w+) <--/.exec(e.message);
  if (e.name === "MismatchedTokenException" && mismatch) expected = TOKEN_NAMES[mismatch[1]!] ?? `\`${mismatch[1]}\``;
  else if (e.name === "NotAllInputParsedException") expected = "a new declaration on its own line";
  else expected = RULE_EXPECTS[rule] ?? "something else";

  let hint: string | undefined;
  if (found && rule === "declaration" && found.tokenType === T.Identifier) hint = didYouMean(found.image, DECL_WORDS);
  if (found?.tokenType === T.Equals && expected !== "`=`") hint = "to compare, write `==`";
  if (!found && expected === "`}`") hint = "close the block with `}`";
  if (!found && expected === "`)`") hint = "close the parenthesis with `)`";
  if (!found && !atFileEnd && expected.startsWith("a formula"))
    hint = "the formula is unfinished; note that a line starting with a declaration keyword begins a new declaration";
  if (!found && rules.includes("setting")) hint = "each setting is `name value`, e.g. `lr 3e-3`; close the block with `}`";
  if (rule === "setting" || (rule === "block" && found?.tokenType === T.RBrace)) hint ??= "each setting is `name value`, e.g. `lr 3e-3`";
  if (found && e.name === "NotAllInputParsedException") hint ??= "start each declaration on its own line";
  bag.add(span, `expected ${expected}, found ${foundText}`, { expected, found: foundText, ...(hint ? { hint } : {}) });
}

/** A spec is small; beyond this the front end refuses rather than spend seconds on garbage. */
export const MAX_SOURCE_CHARS = 50_000;
/** Brackets and prefix operators nested deeper than this are refused (the parser recurses). */
export const MAX_NESTING = 100;

function pointAt(source: string, offset: number): Span {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) if (source.charCodeAt(i) === 10) (line++, (lineStart = i + 1));
  const column = offset - lineStart + 1;
  return { line, column, endLine: line, endColumn: column + 1, offset, endOffset: offset + 1 };
}

/** Binary data or an oversized file: one clear diagnostic instead of thousands (and seconds). */
function refuse(source: string, bag: DiagnosticBag): boolean {
  if (source.length > MAX_SOURCE_CHARS) {
    bag.add(pointAt(source, MAX_SOURCE_CHARS), `the spec is too long: ${source.length} characters (at most ${MAX_SOURCE_CHARS})`, { hint: "is this the right file?" });
    return true;
  }
  // NUL or many control characters: not a text file
  let control = 0;
  let first = -1;
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12 && c !== 11) || c === 0xfffd) {
      if (first < 0) first = i;
      if (c === 0 || ++control > 8) {
        bag.add(pointAt(source, first), `this looks like binary data, not a Stepwise spec (character 0x${source.charCodeAt(first).toString(16).padStart(2, "0")})`, { hint: "is this the right file?" });
        return true;
      }
    }
  }
  return false;
}

/** Binary operators in one declaration: a chain of them becomes a tree as deep as it is long. */
export const MAX_OPERATORS = 1000;
export const MAX_DECL_TOKENS = 4000;
const BINARY_OPS = new Set<TokenType>([T.Plus, T.Minus, T.Star, T.Slash, T.Caret, T.And, T.Or, T.EqEq, T.NotEq, T.Less, T.LessEq, T.Greater, T.GreaterEq]);

/** Where a declaration nests brackets and prefix operators too deeply, or chains too many operators. */
function deepest(chunk: IToken[]): { token: IToken; message: string } | undefined {
  let depth = 0;
  let prefix = 0;
  let ops = 0;
  if (chunk.length > MAX_DECL_TOKENS) return { token: chunk[MAX_DECL_TOKENS]!, message: `a declaration longer than ${MAX_DECL_TOKENS} tokens` };
  for (const t of chunk) {
    if (BINARY_OPS.has(t.tokenType) && ++ops > MAX_OPERATORS) return { token: t, message: `a formula with more than ${MAX_OPERATORS} operators` };
    if (t.tokenType === T.LBrace || t.tokenType === T.LParen) depth++;
    else if (t.tokenType === T.RBrace || t.tokenType === T.RParen) depth--;
    // `- - - x`, `not not x`, `if if …` and `a ^ b ^ …` recurse in the parser like brackets
    prefix = t.tokenType === T.Minus || t.tokenType === T.Not || t.tokenType === T.If || t.tokenType === T.Caret ? prefix + 1 : t.tokenType === T.LParen ? prefix : 0;
    if (depth + prefix > MAX_NESTING) return { token: t, message: `nested too deeply (more than ${MAX_NESTING} levels)` };
  }
  return undefined;
}

/** Lexes and parses a whole spec; never throws. */
export function parseSource(source: string, file = "<spec>"): ParseResult {
  const bag = new DiagnosticBag(file);
  if (refuse(source, bag)) return { spec: { file, decls: [], comments: [], brokenNames: [] }, bag, tokens: [] };
  const lexed = T.StepwiseLexer.tokenize(source);
  for (const err of lexed.errors) {
    const ch = source.slice(err.offset, err.offset + Math.min(err.length, 20));
    const shown = JSON.stringify(ch).slice(1, -1);
    const line = err.line ?? 1;
    const column = err.column ?? 1;
    bag.add(
      { line, column, endLine: line, endColumn: column + err.length, offset: err.offset, endOffset: err.offset + err.length },
      `unexpected character${err.length > 1 ? "s" : ""} \`${shown}\``,
      {
        found: `\`${shown}\``,
        expected: "a name, number, string, operator or comment",
        ...(ch.startsWith("'") ? { hint: 'strings use double quotes: "…"' } : ch.startsWith("\"") ? { hint: "close the string on the same line" } : {}),
      },
    );
  }
  const comments: Comment[] = ((lexed.groups["comments"] as IToken[] | undefined) ?? []).map((t) => ({ text: t.image.trimEnd(), span: tokenSpan(t) }));
  const decls: Decl[] = [];
  const brokenNames: string[] = [];
  const chunks = splitDeclarations(lexed.tokens);
  chunks.forEach((chunk, i) => {
    // a failed parse is costly (exceptions); past the diagnostics limit more errors are not shown anyway
    if (bag.full) {
      bag.add(tokenSpan(chunk[0]!), "declaration not checked"); // counted in "N more errors not shown"
      return;
    }
    const deep = deepest(chunk);
    if (deep) {
      bag.add(tokenSpan(deep.token), deep.message, { hint: "split the formula with `let`" });
      return;
    }
    parser.input = chunk;
    const cst = parser.declaration();
    if (parser.errors.length > 0) {
      reportParseError(bag, parser.errors[0]!, chunk, i === chunks.length - 1);
      const named = chunk[1];
      if (named && named.tokenType === T.Identifier && [T.Reward, T.Let, T.Probe, T.Method].includes(chunk[0]!.tokenType)) brokenNames.push(named.image);
      return;
    }
    decls.push(astBuilder.visit(cst) as Decl);
  });
  return { spec: { file, decls, comments, brokenNames }, bag, tokens: lexed.tokens };
}
