/**
 * Each command's --help names every option the command takes, and takes every option its --help names
 * (`doctor --help` once left out --home): read from the command itself, in process — the options are those
 * its parser lists in a usage error, the help is what --help prints. (`shim` answers its editor on stdout and
 * `audit` parses on its own: the docs test, docs-cli-flags.test.ts, holds their --help to the docs.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSnowmuxError } from '../../src/errors.js';
import type { CommandIo } from '../../src/cli/command-io.js';
import { hubCommand } from '../../src/cli/commands/hub-command.js';
import { stdioCommand } from '../../src/cli/commands/stdio-command.js';
import { statusCommand } from '../../src/cli/commands/status-command.js';
import { reloadCommand } from '../../src/cli/commands/reload-command.js';
import { stopCommand } from '../../src/cli/commands/stop-command.js';
import { logsCommand } from '../../src/cli/commands/logs-command.js';
import { doctorCommand } from '../../src/cli/commands/doctor-command.js';
import { keysCommand } from '../../src/cli/commands/keys-command.js';
import { serviceCommand } from '../../src/cli/commands/service-command.js';
import { setupCommand } from '../../src/cli/commands/setup-command.js';

const COMMANDS: Record<string, (argv: string[], io: CommandIo) => Promise<number>> = {
  hub: hubCommand,
  stdio: stdioCommand,
  status: statusCommand,
  reload: reloadCommand,
  stop: stopCommand,
  logs: logsCommand,
  doctor: doctorCommand,
  keys: keysCommand,
  service: serviceCommand,
  setup: setupCommand,
};

/** Options named in a help text for another command, each with why. */
const NAMED_ELSEWHERE = new Map([['keys --key-file', "the remote shim's option, named where keys says how shims send a key"]]);

test("every command's --help names exactly the options it takes", async () => {
  const wrong: string[] = [];
  for (const [name, command] of Object.entries(COMMANDS)) {
    let help = '';
    const sink = { write: (s: string) => ((help += s), true) } as unknown as NodeJS.WritableStream;
    assert.equal(await command(['--help'], { stdout: sink, stderr: sink }), 0, name);
    let taken: string[] | undefined;
    await command(['--no-such-option-here'], { stdout: sink, stderr: sink }).catch((err: unknown) => {
      if (isSnowmuxError(err, 'USAGE')) taken = err.details?.options as string[] | undefined;
    });
    assert.ok(Array.isArray(taken) && taken.length > 0, `${name}: its usage error lists the options it takes`);
    for (const option of taken!) {
      if (option !== 'help' && !new RegExp(`(?<![\\w-])--${option}(?![\\w-])`).test(help)) wrong.push(`snowmux ${name} takes --${option}, which its --help does not name`);
    }
    for (const [, option] of help.matchAll(/(?<![\w-])--([a-z][a-z-]*)/g)) {
      if (!taken!.includes(option!) && !NAMED_ELSEWHERE.has(`${name} --${option}`)) wrong.push(`snowmux ${name} --help names --${option}, which it does not take`);
    }
  }
  assert.deepEqual([...new Set(wrong)], []);
});
