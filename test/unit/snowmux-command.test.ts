/**
 * The command lines messages advise (`snowmux stop`, `snowmux hub --replace` …) name the hub's home when it
 * is not the default one, and its config file when it is not the home's own: without them the advice acted
 * on ~/.snowmux (`snowmux stop` said "nothing to stop" while the hub it was meant for kept running).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { hubPlace, snowmuxCommand } from '../../src/snowmux-command.js';

test('the default home is left out; any other is added, shell-quoted when it needs to be', () => {
  assert.equal(snowmuxCommand('stop', join(homedir(), '.snowmux')), 'snowmux stop');
  assert.equal(snowmuxCommand('stop', '/srv/snowmux'), 'snowmux stop --home /srv/snowmux');
  assert.equal(snowmuxCommand('hub --replace', "/tmp/it's here"), `snowmux hub --replace --home '/tmp/it'\\''s here'`);
});

test('a hub\'s config file is named only when it is not its home\'s config.toml', () => {
  assert.deepEqual(hubPlace('/srv/h', '/srv/h/config.toml'), { home: '/srv/h', config: undefined });
  assert.equal(snowmuxCommand('hub --replace', hubPlace('/srv/h', '/srv/h/config.toml')), 'snowmux hub --replace --home /srv/h');
  assert.equal(snowmuxCommand('hub --replace', hubPlace('/srv/h', '/etc/snowmux team.toml')), "snowmux hub --replace --home /srv/h --config '/etc/snowmux team.toml'");
  assert.equal(snowmuxCommand('hub --replace', hubPlace(join(homedir(), '.snowmux'), '/etc/c.toml')), 'snowmux hub --replace --config /etc/c.toml');
});
