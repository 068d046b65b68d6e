/**
 * `snowmux setup --write` adds its server as the line after the user's last one and touches nothing else:
 * the formatted insert re-indented the line it started on, so the server before it (written on one line)
 * was spread over several, and a comment after that server's trailing comma moved onto snowmux's entry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'jsonc-parser';
import { mergeIntoConfig } from '../../src/cli/editor-configs.js';

const launch = { command: '/usr/bin/node', args: ['/opt/snowmux/bin/snowmux.js', 'shim'] };
const ENTRY = ['    "snowflake": {', '      "command": "/usr/bin/node",', '      "args": [', '        "/opt/snowmux/bin/snowmux.js",', '        "shim"', '      ]', '    }'];

test('a server on one line keeps its line, and its comment stays with it (JSONC, trailing comma, CRLF)', () => {
  const before = ['{', '  // mine', '  "mcpServers": {', '    "other": {"command": "x", "args": ["1"]}, // keep: the old one', '  },', '}', ''].join('\r\n');
  const { text } = mergeIntoConfig(before, 'cursor', 'snowflake', launch, 'mcp.json');
  assert.equal(text, ['{', '  // mine', '  "mcpServers": {', '    "other": {"command": "x", "args": ["1"]}, // keep: the old one', ...ENTRY.slice(0, -1), '    },', '  },', '}', ''].join('\r\n'));
});

test('without a trailing comma the comma goes after the server before, and the rest is as it was', () => {
  const before = '{\n  "mcpServers": {\n    "a": {"command": "x"},\n    "b": {"command": "y"}\n  },\n  "theme": "dark"\n}\n';
  const { text } = mergeIntoConfig(before, 'claude-desktop', 'snowflake', launch, 'config.json');
  assert.ok(text.startsWith('{\n  "mcpServers": {\n    "a": {"command": "x"},\n    "b": {"command": "y"},\n'), text);
  assert.ok(text.endsWith(`${ENTRY.join('\n')}\n  },\n  "theme": "dark"\n}\n`), text);
  assert.deepEqual(Object.keys((parse(text) as { mcpServers: object }).mcpServers), ['a', 'b', 'snowflake']);
});
