#!/usr/bin/env node
/** The `stepwise` program (bin/stepwise.js runs it): the command line of cli.ts, its exit code. */
import { cli } from "./cli.js";

process.exitCode = await cli(process.argv.slice(2));
