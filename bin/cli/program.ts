/**
 * The whole `smx` command line as one commander program. The main usage (`smx`, `smx --help`)
 * lists every command with every option it takes, generated from the same definitions that parse
 * them, so it cannot leave one out.
 */
import { Command } from 'commander';
import { deviceCommand, linkCommand } from './device-commands.js';
import { cliName, configureCli, synopsis, type CliIo } from './conventions.js';
import { devicesCommand, keysCommand, projectsCommand } from './admin-commands.js';
import { sendCommand, sendOtpCommand, verifyCommand } from './message-commands.js';
import { serverCommands, version } from './server-commands.js';

const WIDTH = 100;
const SHORT = 24;

export function buildProgram(io: CliIo): Command {
  const program = new Command('smx')
    .description('self-hosted OTP and SMS over your Android phones')
    .version(version(), '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show how to use a command (and do nothing else)');
  const sections: Array<[string, Command[]]> = [
    ['Run the server (configured by environment variables)', serverCommands(io)],
    ['Phones', [linkCommand(io), deviceCommand(io)]],
    [
      'Operate (admin API of a running server; admin token from --admin-token, SMX_ADMIN_TOKEN or $SMX_DATA_DIR/admin-token)',
      [projectsCommand(io), keysCommand(io), devicesCommand(io)],
    ],
    [
      'Send (project API; key from --api-key, SMX_API_KEY, or made for --project with the admin token)',
      [sendOtpCommand(io), verifyCommand(io), sendCommand(io)],
    ],
  ];
  for (const [, commands] of sections) for (const command of commands) program.addCommand(command);
  configureCli(program, io);
  program.helpInformation = () => mainUsage(program, sections, io);
  return program;
}

/** Every runnable command (those without subcommands), depth first. */
export function leafCommands(command: Command): Command[] {
  return command.commands.length === 0 ? [command] : command.commands.flatMap(leafCommands);
}

function mainUsage(program: Command, sections: Array<[string, Command[]]>, io: CliIo): string {
  const name = cliName(io);
  const lines = [
    `smx ${program.version()}: ${program.description()}`,
    '',
    `Usage: ${name} <command> [options]`,
    `       ${name} <command> --help     that command's usage, options and defaults`,
  ];
  for (const [title, commands] of sections) {
    lines.push('', ...wrap(`${title}:`, '', '  '));
    for (const command of commands.flatMap(leafCommands)) {
      const line = synopsis(command);
      // A short synopsis and its description share a line; a long one gets its own.
      if (line.length <= SHORT)
        lines.push(...wrap(command.description(), `  ${line.padEnd(SHORT)}  `, ' '.repeat(SHORT + 4)));
      else lines.push(...wrap(line, '  ', '      '), ...wrap(command.description(), '      ', '      '));
    }
  }
  lines.push(
    '',
    'Other:',
    `  smx --version`,
    `  smx help [command]`,
    '',
    'README.md has the whole story ("Five minutes", "Command line", "Configuration").',
    '',
  );
  return lines.join('\n');
}

/** Breaks `text` at spaces to fit WIDTH, never inside a `[--option <value>]` group. */
function wrap(text: string, first: string, rest: string): string[] {
  const words = text.match(/\[[^\]]*\](?:\.\.\.)?|\S+/g) ?? [];
  const lines: string[] = [];
  let line = first;
  for (const word of words) {
    const prefix = lines.length === 0 ? first : rest;
    if (line.length > prefix.length && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = rest + word;
    } else {
      line += line.length > prefix.length ? ` ${word}` : word;
    }
  }
  lines.push(line);
  return lines;
}
