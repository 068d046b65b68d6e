/** How client and file text is shown on a terminal: every invisible character escaped, each as itself. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeInvisible, escapeInvisibleJson, escapeLine, hasInvisible, hideLocalPaths, hideUrlCredentials, shownText, shownUrl } from '../../src/shown-text.js';
import { toolError } from '../../src/hub/pipeline/call-state.js';

const HIDDEN = [
  '\u0000', '\u0007', '\u001b', '\u007f', '\u0085', '\u009b', '\u00a0', '\u00ad', '\u034f', '\u115f', '\u1680', '\u180e', '\u2000', '\u200b',
  '\u200d', '\u2028', '\u2029', '\u202e', '\u2066', '\u2800', '\u3000', '\u3164', '\ufe0f', '\ufeff', '\uffa0', '\ud800', '\udfff', '\ue000',
  '\u{e0001}', '\u{e0041}', '\u{e007f}', '\u{e0100}', '\u{1d173}', '\u{f0000}', '\u{10fffd}', '\u{e0080}',
];

test('every invisible character is shown as an escape of its own code point: different hidden texts never look the same', () => {
  const shown = HIDDEN.map((c) => escapeInvisible(`x${c}y`));
  for (const [i, text] of shown.entries()) {
    const code = HIDDEN[i]!.codePointAt(0)!;
    const expected = code > 0xffff ? `x\\u{${code.toString(16)}}y` : `x\\u${code.toString(16).padStart(4, '0')}y`;
    assert.equal(text, expected, `U+${code.toString(16)}`);
  }
  assert.equal(new Set(shown).size, HIDDEN.length, 'each one distinct');
  assert.notEqual(escapeInvisible('x\u{E0041}'), escapeInvisible('x\u{E007F}'));
});

test('visible text is left as it is: letters of any script, emoji (with skin tones), the space, the newline', () => {
  for (const text of ['SELECT * FROM "Mixed Case"', 'é中文Ｓſ', '😀👍🏽 🇫🇷', 'a\nb', 'C:\\path\\u001b']) assert.equal(escapeInvisible(text), text);
});

test('escapeLine keeps a text on one line; escaping twice changes nothing', () => {
  assert.equal(escapeLine('a\nb\r\nc\u2028d'), 'a\\u000ab\\u000d\\u000ac\\u2028d');
  const once = escapeLine(`t${HIDDEN.join('')}\n`);
  assert.equal(escapeLine(once), once);
  assert.doesNotMatch(once, /[\n\r]/);
  assert.equal(shownText('a\n'.repeat(100), 4), 'a\\u000aa\\u000a…');
});

test('escapeInvisibleJson: the same JSON value, with nothing a terminal acts on or hides', () => {
  const value = { name: `x${HIDDEN.join('|')}`, nested: ['\u009b2J\u202eevil', '😀'], plain: 'ok' };
  const json = JSON.stringify(value, null, 2);
  const escaped = escapeInvisibleJson(json);
  assert.deepEqual(JSON.parse(escaped), value);
  assert.doesNotMatch(escaped, /[\u0000-\u0009\u000b-\u001f\u007f-\u00a0\u2028\u2029\u202e\u200b\u{e0041}]/u);
  assert.match(escaped, /\\udb40\\udc41/, 'an astral character as its two units');
});

test('hasInvisible (what makes a name not plain) is unchanged: controls, separators, format characters, the newline', () => {
  for (const c of ['\n', '\u001b', '\u009b', '\u2028', '\u202e', '\u200b', '\u{e0041}']) assert.equal(hasInvisible(`a${c}`), true, JSON.stringify(c));
  for (const text of ['ORDERS', 'Mixed Case', 'é中文', 'a\u00a0b']) assert.equal(hasInvisible(text), false, text);
});

test('hideUrlCredentials hides the user and password of every URL in a text, and nothing else', () => {
  assert.equal(
    hideUrlCredentials('Request cannot be constructed from a URL that includes credentials: http://urluser:PW-1212@127.0.0.1:35937/ (via HTTPS://p:x@proxy:3128)'),
    'Request cannot be constructed from a URL that includes credentials: http://***@127.0.0.1:35937/ (via HTTPS://***@proxy:3128)',
  );
  assert.equal(hideUrlCredentials('mail me at a@b.c; see https://host/path?x=a@b'), 'mail me at a@b.c; see https://host/path?x=a@b');
});

test('hideUrlCredentials hides every spelling of a URL password a lenient client accepts: an @ or / in it, ?password=, a JDBC ;password=', () => {
  const cases: [string, string][] = [
    ['cannot read stream s at redis://:AT@PW-2@127.0.0.1:9: ECONNREFUSED', 'cannot read stream s at redis://***@127.0.0.1:9: ECONNREFUSED'],
    ['at redis://:SLASH/PW-1@127.0.0.1:9: Invalid URL.', 'at redis://***@127.0.0.1:9: Invalid URL.'],
    ['at redis://127.0.0.1:41401/0?password=QUERY-PW-3 holds no entries', 'at redis://127.0.0.1:41401/0?password=*** holds no entries'],
    ['jdbc:snowflake://a.snowflakecomputing.com/?user=me&password=JDBC-PW-4&warehouse=W', 'jdbc:snowflake://a.snowflakecomputing.com/?user=me&password=***&warehouse=W'],
    ['jdbc:sqlserver://h;user=me;pwd=JDBC-PW-5;db=x', 'jdbc:sqlserver://h;user=me;pwd=***;db=x'],
    ['GET https://h/v1?access_token=TOKEN-6&sig=SIG-7 failed', 'GET https://h/v1?access_token=***&sig=*** failed'],
    ['"http://u:QUOTED-PW-8@h" and "http://v@k"', '"http://***@h" and "http://***@k"'],
  ];
  for (const [text, hidden] of cases) assert.equal(hideUrlCredentials(text), hidden);
});

test('a URL whose path is its secret (a webhook, a bot token) shows the service, not the secret, in any text and as a URL the user gave', () => {
  const cases: [string, string][] = [
    ['POST https://hooks.slack.com/services/T0001/B0001/SLACKHOOK-SECRET-1 failed: 404', 'POST https://hooks.slack.com/services/*** failed: 404'],
    ['https://hooks.slack.com/workflows/T0001/A0001/123/WORKFLOW-SECRET-2', 'https://hooks.slack.com/workflows/***'],
    ['https://discord.com/api/webhooks/123456789012345678/DISCORD-TOKEN-3', 'https://discord.com/api/webhooks/***'],
    ['https://acme.webhook.office.com/webhookb2/g1@g2/IncomingWebhook/TEAMS-KEY-4/g3', 'https://***@g2/IncomingWebhook/***'],
    ['https://hooks.zapier.com/hooks/catch/123/ZAPIER-KEY-5/', 'https://hooks.zapier.com/hooks/***'],
    ['https://chat.example.com/hooks/MATTERMOST-KEY-6', 'https://chat.example.com/hooks/***'],
    ['https://api.telegram.org/bot123456:TELEGRAM-TOKEN-7/sendMessage', 'https://api.telegram.org/bot***/sendMessage'],
  ];
  for (const [text, hidden] of cases) {
    assert.equal(hideUrlCredentials(text), hidden, text);
    if (!text.includes(' ')) assert.equal(shownUrl(text), hidden, text);
  }
  // A path that only mentions hooks, and a webhook URL with nothing after its service's part, stay as they are.
  for (const text of ['https://example.com/docs/hooks', 'https://hooks.slack.com/', 'https://example.com/guide/webhooks-howto/page']) assert.equal(hideUrlCredentials(text), text);
});

test('shownUrl shows a URL the user gave without anything that may be its password, whether or not it parses', () => {
  const cases: [string, string][] = [
    ['wss://uu:SHIMURL-PW-3@127.0.0.1:53415/shim', 'wss://***@127.0.0.1:53415/shim'],
    ['redis://:AT@PW-2@127.0.0.1:9', 'redis://***@127.0.0.1:9'],
    ['redis://:SLASH/PW-1@127.0.0.1:9', 'redis://***@127.0.0.1:9'],
    ['redis://:Q?UESTION#PW @127.0.0.1:9/0', 'redis://***@127.0.0.1:9/0'],
    ['redis://127.0.0.1:6379/0?password=REDIS-PW-8080', 'redis://127.0.0.1:6379/0?password=***'],
    ['redis:default:MISTYPED-PW@h:6379', 'redis:***@h:6379'],
    ['http:\\\\u:BACKSLASH-PW@h', 'http:\\\\***@h'],
    ['jdbc:snowflake://myorg-acct.snowflakecomputing.com/?user=me&password=JDBC-PW-1', 'jdbc:snowflake://myorg-acct.snowflakecomputing.com/?user=me&password=***'],
    ['https://hub.example.com:8765/shim', 'https://hub.example.com:8765/shim'],
    ['myorg-myaccount', 'myorg-myaccount'],
    // No well-formed scheme: everything before the last '@' may be the password.
    ['rediss//:NOCOLON-PW@redis.example:6380', '***@redis.example:6380'],
    ['//u:SLASHES-PW@host', '***@host'],
  ];
  for (const [url, shown] of cases) assert.equal(shownUrl(url), shown);
});

test('hideLocalPaths: a quoted absolute path shows its last part only, a home directory nothing; the line quoting the statement stays', () => {
  assert.equal(hideLocalPaths('Cannot access file "/home/alice/.snowmux/x.duckdb" - disabled'), 'Cannot access file "…/x.duckdb" - disabled');
  assert.equal(hideLocalPaths("ENOENT: no such file or directory, mkdir '/srv/hub/warehouse'"), "ENOENT: no such file or directory, mkdir '…/warehouse'");
  assert.equal(hideLocalPaths('at "C:\\Users\\alice\\snowmux\\w.duckdb" and "~/x/y"'), 'at "…/w.duckdb" and "…/y"');
  const home = process.env['HOME'];
  if (home && home.length > 1) assert.equal(hideLocalPaths(`cannot write "${home}"`), 'cannot write "…"');
  assert.equal(hideLocalPaths('Cannot access file "/"'), 'Cannot access file "…"');
  // Relative names, division and the caller's own statement are not paths on the hub machine.
  assert.equal(hideLocalPaths('Cannot access file "x.csv"'), 'Cannot access file "x.csv"');
  assert.equal(hideLocalPaths('Division by zero in 1/0'), 'Division by zero in 1/0');
  assert.equal(hideLocalPaths("Error \"/a/b\"\nLINE 1: SELECT * FROM read_text('/a/b')"), "Error \"…/b\"\nLINE 1: SELECT * FROM read_text('/a/b')");
});

test('an unexpected error reaches the client without the paths of the hub machine it quoted (the hub log has them)', () => {
  const result = toolError(Object.assign(new Error("EACCES: permission denied, open '/home/alice/.snowmux/warehouse/.sample-build-1/SNOWMUX_SAMPLE.duckdb'"), { code: 'EACCES' }));
  const text = (result.content[0] as { text: string }).text;
  assert.equal(text, "Unexpected error: EACCES: permission denied, open '…/SNOWMUX_SAMPLE.duckdb'. This is a snowmux bug; the hub log has details.");
});
