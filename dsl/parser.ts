/**
 * The Stepwise grammar (chevrotain CstParser). Syntax only: it builds a concrete syntax tree and
 * knows nothing of levels, settings or methods; `visitor.ts` turns the CST into the typed AST and
 * `checker.ts` gives it meaning. The CST node types in `cst.d.ts` are generated from this grammar
 * (`npx tsx dsl/gen-cst.ts`).
 *
 *   spec        := declaration*
 *   declaration := experiment STRING | seed NUMBER | backend NAME
 *                | (model|tokenizer|task|steps|objective|sampler) NAME componentArg? block?
 *                | probe NAME block | (reward|let) NAME (":" NAME)? "=" expr | advantage "=" expr
 *                | use NAME ("(" (NAME "=" expr ("," NAME "=" expr)*)? ")")?
 *                | train "{" (NAME block? ","?)* "}" | eval block | track name ("," name)*
 *                | method NAME "(" (NAME ("=" expr)? ("," …)*)? ")" "{" declaration* "}"
 *   componentArg:= STRING | REGEX | NUMBER NAME?
 *   block       := "{" (settingName expr (".." expr)? ","?)* "}"
 *   expr        := if expr then expr else expr | or
 *   or := and (or and)* ; and := not (and not)* ; not := "not" not | compare
 *   compare := additive (CompareOp additive)? ; additive := multiplicative (AddOp multiplicative)*
 *   multiplicative := unary (MulOp unary)* ; unary := "-" unary | power ; power := atom ("^" unary)?
 *   atom := NUMBER | STRING | "(" expr ")" | name ("(" callArgs ")")?
 *   callArgs := (expr ("," expr)*)? (","? (over NAME | by NAME+))*
 */
import type { CstNode, IRecognitionException } from "chevrotain";
import { CstParser } from "./chevrotain.js";
import * as T from "./lexer.js";

export class StepwiseParser extends CstParser {
  constructor() {
    // Recovery is off: the front end parses declaration by declaration (see syntax.ts), which
    // reports one precise error per broken declaration and keeps the rest.
    super(T.allTokens, { recoveryEnabled: false, nodeLocationTracking: "full", maxLookahead: 3 });
    this.performSelfAnalysis();
  }

  public spec = this.RULE("spec", () => {
    this.MANY(() => this.SUBRULE(this.declaration));
  });

  public declaration = this.RULE("declaration", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.experimentDecl) },
      { ALT: () => this.SUBRULE(this.seedDecl) },
      { ALT: () => this.SUBRULE(this.backendDecl) },
      { ALT: () => this.SUBRULE(this.componentDecl) },
      { ALT: () => this.SUBRULE(this.probeDecl) },
      { ALT: () => this.SUBRULE(this.valueDecl) },
      { ALT: () => this.SUBRULE(this.advantageDecl) },
      { ALT: () => this.SUBRULE(this.useDecl) },
      { ALT: () => this.SUBRULE(this.trainDecl) },
      { ALT: () => this.SUBRULE(this.evalDecl) },
      { ALT: () => this.SUBRULE(this.trackDecl) },
      { ALT: () => this.SUBRULE(this.methodDecl) },
    ]);
  });

  private experimentDecl = this.RULE("experimentDecl", () => {
    this.CONSUME(T.Experiment);
    this.CONSUME(T.StringLit);
  });

  private seedDecl = this.RULE("seedDecl", () => {
    this.CONSUME(T.Seed);
    this.CONSUME(T.NumberLit);
  });

  private backendDecl = this.RULE("backendDecl", () => {
    this.CONSUME(T.Backend);
    this.CONSUME(T.Identifier);
  });

  private componentDecl = this.RULE("componentDecl", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Model) },
      { ALT: () => this.CONSUME(T.Tokenizer) },
      { ALT: () => this.CONSUME(T.Task) },
      { ALT: () => this.CONSUME(T.Steps) },
      { ALT: () => this.CONSUME(T.Objective) },
      { ALT: () => this.CONSUME(T.Sampler) },
    ]);
    this.CONSUME(T.Identifier);
    this.OPTION(() => this.SUBRULE(this.componentArg));
    this.OPTION2(() => this.SUBRULE(this.block));
  });

  private componentArg = this.RULE("componentArg", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.StringLit) },
      { ALT: () => this.CONSUME(T.RegexLit) },
      {
        ALT: () => {
          this.CONSUME(T.NumberLit);
          this.OPTION(() => this.CONSUME(T.Identifier));
        },
      },
    ]);
  });

  private probeDecl = this.RULE("probeDecl", () => {
    this.CONSUME(T.Probe);
    this.CONSUME(T.Identifier);
    this.SUBRULE(this.block);
  });

  private valueDecl = this.RULE("valueDecl", () => {
    this.OR([{ ALT: () => this.CONSUME(T.Reward) }, { ALT: () => this.CONSUME(T.Let) }]);
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.Colon);
      this.CONSUME2(T.Identifier, { LABEL: "level" });
    });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  private advantageDecl = this.RULE("advantageDecl", () => {
    this.CONSUME(T.Advantage);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  private useDecl = this.RULE("useDecl", () => {
    this.CONSUME(T.Use);
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.OPTION2(() => {
        this.SUBRULE(this.namedArg);
        this.MANY(() => {
          this.CONSUME(T.Comma);
          this.SUBRULE2(this.namedArg);
        });
      });
      this.CONSUME(T.RParen);
    });
  });

  private namedArg = this.RULE("namedArg", () => {
    this.SUBRULE(this.name);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  private trainDecl = this.RULE("trainDecl", () => {
    this.CONSUME(T.Train);
    this.CONSUME(T.LBrace);
    this.MANY(() => {
      this.SUBRULE(this.stage);
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RBrace);
  });

  private stage = this.RULE("stage", () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => this.SUBRULE(this.block));
  });

  private evalDecl = this.RULE("evalDecl", () => {
    this.CONSUME(T.Eval);
    this.SUBRULE(this.block);
  });

  private trackDecl = this.RULE("trackDecl", () => {
    this.CONSUME(T.Track);
    this.SUBRULE(this.name);
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.name);
    });
  });

  private methodDecl = this.RULE("methodDecl", () => {
    this.CONSUME(T.Method);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.param);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.param);
      });
    });
    this.CONSUME(T.RParen);
    this.CONSUME(T.LBrace);
    this.MANY2(() => this.SUBRULE(this.declaration));
    this.CONSUME(T.RBrace);
  });

  private param = this.RULE("param", () => {
    this.SUBRULE(this.name);
    this.OPTION(() => {
      this.CONSUME(T.Equals);
      this.SUBRULE(this.expression);
    });
  });

  /** `{ name value, name lo..hi, … }`: commas optional. */
  private block = this.RULE("block", () => {
    this.CONSUME(T.LBrace);
    this.MANY(() => {
      this.SUBRULE(this.setting);
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RBrace);
  });

  private setting = this.RULE("setting", () => {
    this.SUBRULE(this.name);
    this.SUBRULE(this.expression);
    this.OPTION(() => {
      this.CONSUME(T.DotDot);
      this.SUBRULE2(this.expression, { LABEL: "upper" });
    });
  });

  /** A name that may be a keyword: setting names (`steps 600`) and tracked metrics (`track reward`). */
  private name = this.RULE("name", () => {
    this.OR([{ ALT: () => this.CONSUME(T.Identifier) }, { ALT: () => this.CONSUME(T.Keyword) }]);
  });

  // ---- formulas ----

  public expression = this.RULE("expression", () => {
    this.OR([{ ALT: () => this.SUBRULE(this.ifExpr) }, { ALT: () => this.SUBRULE(this.orExpr) }]);
  });

  private ifExpr = this.RULE("ifExpr", () => {
    this.CONSUME(T.If);
    this.SUBRULE(this.expression, { LABEL: "cond" });
    this.CONSUME(T.Then);
    this.SUBRULE2(this.expression, { LABEL: "then" });
    this.CONSUME(T.Else);
    this.SUBRULE3(this.expression, { LABEL: "else" });
  });

  private orExpr = this.RULE("orExpr", () => {
    this.SUBRULE(this.andExpr, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.Or);
      this.SUBRULE2(this.andExpr, { LABEL: "operands" });
    });
  });

  private andExpr = this.RULE("andExpr", () => {
    this.SUBRULE(this.notExpr, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.And);
      this.SUBRULE2(this.notExpr, { LABEL: "operands" });
    });
  });

  private notExpr = this.RULE("notExpr", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Not);
          this.SUBRULE(this.notExpr);
        },
      },
      { ALT: () => this.SUBRULE(this.compareExpr) },
    ]);
  });

  private compareExpr = this.RULE("compareExpr", () => {
    this.SUBRULE(this.additiveExpr, { LABEL: "operands" });
    this.OPTION(() => {
      this.CONSUME(T.CompareOp);
      this.SUBRULE2(this.additiveExpr, { LABEL: "operands" });
    });
  });

  private additiveExpr = this.RULE("additiveExpr", () => {
    this.SUBRULE(this.multiplicativeExpr, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.AddOp);
      this.SUBRULE2(this.multiplicativeExpr, { LABEL: "operands" });
    });
  });

  private multiplicativeExpr = this.RULE("multiplicativeExpr", () => {
    this.SUBRULE(this.unaryExpr, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.MulOp);
      this.SUBRULE2(this.unaryExpr, { LABEL: "operands" });
    });
  });

  private unaryExpr = this.RULE("unaryExpr", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Minus);
          this.SUBRULE(this.unaryExpr);
        },
      },
      { ALT: () => this.SUBRULE(this.powerExpr) },
    ]);
  });

  /** `a ^ b` binds tighter than unary minus on its left (`-2^2` = -4) and is right-associative. */
  private powerExpr = this.RULE("powerExpr", () => {
    this.SUBRULE(this.atom);
    this.OPTION(() => {
      this.CONSUME(T.Caret);
      this.SUBRULE(this.unaryExpr, { LABEL: "exponent" });
    });
  });

  private atom = this.RULE("atom", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLit) },
      { ALT: () => this.CONSUME(T.StringLit) },
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.SUBRULE(this.expression);
          this.CONSUME(T.RParen);
        },
      },
      { ALT: () => this.SUBRULE(this.reference) },
    ]);
  });

  /** A name (a declaration keyword too: `steps`, `reward`, a parameter `probe`), optionally called. */
  private reference = this.RULE("reference", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Identifier) },
      { ALT: () => this.CONSUME(T.DeclKeyword) },
    ]);
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.SUBRULE(this.callArgs);
      this.CONSUME(T.RParen);
    });
  });

  private callArgs = this.RULE("callArgs", () => {
    this.OPTION(() => {
      this.SUBRULE(this.expression, { LABEL: "args" });
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.OR([
          { ALT: () => this.SUBRULE2(this.expression, { LABEL: "args" }) },
          { ALT: () => this.SUBRULE(this.modifier) },
        ]);
      });
    });
    this.MANY2(() => this.SUBRULE2(this.modifier));
  });

  /** `over step`, `over response`, `by position`, `by step index`. */
  private modifier = this.RULE("modifier", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Over);
          this.CONSUME(T.Identifier);
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.By);
          this.AT_LEAST_ONE(() => this.CONSUME2(T.Identifier));
        },
      },
    ]);
  });
}

/** One parser instance: chevrotain parsers are reusable by resetting `input`. */
export const parser = new StepwiseParser();

export type ParseError = IRecognitionException;
export type { CstNode };
