/**
 * The Stepwise lexer (chevrotain). Token order matters: comments and whitespace first,
 * multi-character operators before their prefixes, keywords before identifiers (each keyword
 * has `longer_alt: Identifier`, so `seeds` is a name, not `seed` + `s`).
 */
import type { IToken, TokenType, CustomPatternMatcherReturn } from "chevrotain";
import { createToken, Lexer } from "./chevrotain.js";

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\n\f\v]+/, group: Lexer.SKIPPED, line_breaks: true });
/** `#` to end of line; kept in a group so the formatter can put comments back. */
export const Comment = createToken({ name: "Comment", pattern: /#[^\n\r]*/, group: "comments" });

export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

/** Every keyword is also a `Keyword`, so a setting name may be a keyword (`sft { steps 600 }`). */
export const Keyword = createToken({ name: "Keyword", pattern: Lexer.NA });

/** Declaration keywords may also be names inside formulas and argument lists (`probe = belief`, `steps`, `reward`). */
export const DeclKeyword = createToken({ name: "DeclKeyword", pattern: Lexer.NA, categories: [Keyword] });

function keyword(word: string, decl = true): TokenType {
  return createToken({
    name: word[0]!.toUpperCase() + word.slice(1),
    pattern: new RegExp(word),
    longer_alt: Identifier,
    categories: decl ? [Keyword, DeclKeyword] : [Keyword],
  });
}

// Declarations.
export const Experiment = keyword("experiment");
export const Seed = keyword("seed");
export const Backend = keyword("backend");
export const Model = keyword("model");
export const Tokenizer = keyword("tokenizer");
export const Task = keyword("task");
export const Steps = keyword("steps");
export const Probe = keyword("probe");
export const Reward = keyword("reward");
export const Let = keyword("let");
export const Advantage = keyword("advantage");
export const Objective = keyword("objective");
export const Sampler = keyword("sampler");
export const Use = keyword("use");
export const Train = keyword("train");
export const Eval = keyword("eval");
export const Track = keyword("track");
export const Method = keyword("method");
// Formulas.
export const If = keyword("if", false);
export const Then = keyword("then", false);
export const Else = keyword("else", false);
export const Over = keyword("over", false);
export const By = keyword("by", false);
export const And = keyword("and", false);
export const Or = keyword("or", false);
export const Not = keyword("not", false);

/** The keywords that start a declaration (the parser's recovery points). */
export const DECLARATION_KEYWORDS: TokenType[] = [
  Experiment, Seed, Backend, Model, Tokenizer, Task, Steps, Probe, Reward, Let, Advantage,
  Objective, Sampler, Use, Train, Eval, Track, Method,
];
const FORMULA_KEYWORDS = [If, Then, Else, Over, By, And, Or, Not];

// Literals. Numbers: 12, 0.05, 3e-3, 1.5E+2 (no leading dot, so `3..5` is 3, .., 5).
export const NumberLit = createToken({ name: "NumberLit", pattern: /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/ });
/** A double-quoted string on one line, with escapes \n \t \" \\ \{ \}. */
export const StringLit = createToken({ name: "StringLit", pattern: /"(?:[^"\\\n\r]|\\[^\n\r])*"/ });

/**
 * A regex literal `/…/flags`, only right after the word `split` (elsewhere `/` divides).
 * A custom matcher, because whether `/` starts a regex depends on the previous token.
 */
const REGEX_BODY = /\/((?:\\[^\n\r]|[^/\\\n\r])+)\/([a-z]*)/y;
function matchRegex(text: string, offset: number, tokens: IToken[]): CustomPatternMatcherReturn | null {
  const prev = tokens[tokens.length - 1];
  if (!prev || prev.image !== "split") return null;
  REGEX_BODY.lastIndex = offset;
  return REGEX_BODY.exec(text) as CustomPatternMatcherReturn | null;
}
export const RegexLit = createToken({
  name: "RegexLit",
  pattern: { exec: matchRegex },
  line_breaks: false,
  start_chars_hint: ["/"],
});

// Punctuation.
export const LParen = createToken({ name: "LParen", pattern: /\(/ });
export const RParen = createToken({ name: "RParen", pattern: /\)/ });
export const LBrace = createToken({ name: "LBrace", pattern: /\{/ });
export const RBrace = createToken({ name: "RBrace", pattern: /\}/ });
export const Comma = createToken({ name: "Comma", pattern: /,/ });
export const Colon = createToken({ name: "Colon", pattern: /:/ });
export const DotDot = createToken({ name: "DotDot", pattern: /\.\./ });

// Operator families as token categories: the parser consumes the category, the visitor reads the image.
export const CompareOp = createToken({ name: "CompareOp", pattern: Lexer.NA });
export const AddOp = createToken({ name: "AddOp", pattern: Lexer.NA });
export const MulOp = createToken({ name: "MulOp", pattern: Lexer.NA });
export const EqEq = createToken({ name: "EqEq", pattern: /==/, categories: [CompareOp] });
export const NotEq = createToken({ name: "NotEq", pattern: /!=/, categories: [CompareOp] });
export const LessEq = createToken({ name: "LessEq", pattern: /<=/, categories: [CompareOp] });
export const GreaterEq = createToken({ name: "GreaterEq", pattern: />=/, categories: [CompareOp] });
export const Less = createToken({ name: "Less", pattern: /</, categories: [CompareOp] });
export const Greater = createToken({ name: "Greater", pattern: />/, categories: [CompareOp] });
export const Equals = createToken({ name: "Equals", pattern: /=/ });
export const Plus = createToken({ name: "Plus", pattern: /\+/, categories: [AddOp] });
export const Minus = createToken({ name: "Minus", pattern: /-/, categories: [AddOp] });
export const Star = createToken({ name: "Star", pattern: /\*/, categories: [MulOp] });
export const Slash = createToken({ name: "Slash", pattern: /\//, categories: [MulOp] });
export const Caret = createToken({ name: "Caret", pattern: /\^/ });

export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  RegexLit, // before Slash
  NumberLit,
  StringLit,
  ...DECLARATION_KEYWORDS,
  ...FORMULA_KEYWORDS,
  Keyword,
  DeclKeyword,
  Identifier,
  LParen, RParen, LBrace, RBrace, Comma, Colon, DotDot,
  EqEq, NotEq, LessEq, GreaterEq, Less, Greater, Equals,
  Plus, Minus, Star, Slash, Caret,
  CompareOp, AddOp, MulOp,
];

export const StepwiseLexer = new Lexer(allTokens, { ensureOptimizations: false, positionTracking: "full" });

export const KEYWORDS: ReadonlySet<string> = new Set([...DECLARATION_KEYWORDS, ...FORMULA_KEYWORDS].map((t) => String(t.PATTERN).slice(1, -1)));
