#!/usr/bin/env node
/**
 * The `smx` command line; bin/cli/program.ts defines every command. With no arguments it prints
 * the main usage. Exit codes: 0 done, 1 the command failed, 2 the command line is wrong.
 */
import { processIo, runCli } from './cli/conventions.js';
import { buildProgram } from './cli/program.js';

const io = processIo();
const argv = process.argv.slice(2);
await runCli(buildProgram(io), argv.length === 0 ? ['--help'] : argv, io);
