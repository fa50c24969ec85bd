/**
 * The `stepwise` command line; the commands are declared in commands.ts. Every failure ends with
 * a message and an exit code (0 ok, 1 diagnostics or a failed run, 2 usage), never a stack trace
 * (STEPWISE_DEBUG=1 adds it for an unexpected error).
 */
import { closest } from "../../dsl/diagnostics.js";
import { parseArgs, UsageError } from "./args.js";
import { COMMANDS, commandHelp, findCommand, topHelp, usageLine, type Command } from "./commands.js";
import { packageVersion } from "../package-info.js";

/** Where the CLI's own messages go (commands print their output to the process's streams). */
export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
}

const stdio: CliIO = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/**
 * Runs one command line and returns its exit code; never throws.
 * @example await cli(["run", "a.sw", "--iteration", "3"]) // 2: "unknown option --iteration; did you mean --iterations?"
 */
export async function cli(argv: string[], io: CliIO = stdio): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (err instanceof CommandUsageError) {
      io.err(`stepwise ${err.command.name}: ${err.message}\nusage: ${usageLine(err.command)}\n(stepwise ${err.command.name} --help for the options)\n`);
    } else if (err instanceof UsageError) {
      io.err(`stepwise: ${err.message}\n(stepwise --help for the commands)\n`);
    } else {
      io.err(`stepwise: ${err instanceof Error ? err.message : String(err)}\n`);
      if (process.env.STEPWISE_DEBUG && err instanceof Error && err.stack) io.err(err.stack + "\n");
    }
    return err instanceof UsageError ? 2 : 1;
  }
}

async function dispatch(argv: string[], io: CliIO): Promise<number> {
  const first = argv[0];
  if (first === undefined) {
    io.err(topHelp());
    return 2;
  }
  if (first === "--help" || first === "-h" || first === "help") {
    const found = argv.length > 1 ? findCommand(argv.slice(1)) : undefined;
    if (argv.length > 1 && !found) throw new UsageError(unknownCommand(argv.slice(1)));
    io.out(found ? commandHelp(found.command) : topHelp());
    return 0;
  }
  if (first === "--version" || first === "-V" || first === "version") {
    if (argv.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(argv[1])} after --version`);
    io.out(`stepwise ${packageVersion()}\n`);
    return 0;
  }
  const found = findCommand(argv);
  if (!found) throw new UsageError(unknownCommand(argv));
  const { command, rest } = found;
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(commandHelp(command));
    return 0;
  }
  try {
    return await command.run(parseArgs(rest, command));
  } catch (e) {
    if (e instanceof UsageError) throw new CommandUsageError(e.message, command);
    throw e;
  }
}

/** A usage error inside one command: its usage line follows the message, not the whole help. */
class CommandUsageError extends UsageError {
  constructor(message: string, readonly command: Command) {
    super(message);
  }
}

function unknownCommand(argv: string[]): string {
  const word = argv[0]!;
  const prefixes = COMMANDS.filter((c) => c.name.split(" ")[0] === word);
  if (prefixes.length > 0) return `${word} needs a subcommand: ${prefixes.map((c) => `stepwise ${c.name}`).join(", ")}`;
  if (word.startsWith("-")) return `unknown option ${word} before the command`;
  const near = closest(word, COMMANDS.map((c) => c.name.split(" ")[0]!));
  return `unknown command ${JSON.stringify(word)}${near !== undefined ? `; did you mean ${near}?` : ""}`;
}

