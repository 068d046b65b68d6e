/** docs/errors.md, rendered from the registry (tools/errors-doc.mjs writes it; a unit test checks it). */
import { ERROR_CODES, type ErrorCodeFacts } from './error-codes.js';

const SECTIONS: [title: string, pick: (f: ErrorCodeFacts) => boolean, note: string][] = [
  ['Refused by the hub\'s rules', (f) => f.refusal === true, 'Counted as `refused` (not `error`) in status, audit and metrics.'],
  ['The request was wrong', (f) => !f.refusal && f.fault === 'user', 'The warehouse is fine: these never trip the circuit breaker and are never retried.'],
  ['The warehouse, or the way to it', (f) => !f.refusal && f.fault === 'infrastructure', 'Counted by the circuit breaker; transient ones are retried (with back-off) before the call fails.'],
  ['Cancelled', (f) => f.fault === 'cancelled', ''],
  ['The hub, the shim and the CLI', (f) => f.fault === 'hub', 'Set-up, files, sockets and the audit log. The message names the file or setting and the fix.'],
];

export function renderErrorsDoc(): string {
  const out = [
    '# Error codes',
    '',
    '<!-- Generated from src/error-codes.ts by `node tools/errors-doc.mjs`; do not edit by hand. -->',
    '',
    'Every error snowmux gives carries a stable code: in a tool result under `_meta["dev.snowmux/error"].code`,',
    '(a call to a tool the session is not offered is a JSON-RPC -32602 error with `data.code` `UNKNOWN_TOOL`),',
    'in audit records as `errorCode`, in metrics as the `code` label, and in CLI messages. The message itself',
    'always says what happened and what to do next; this page is the list of codes.',
    '',
    'A tool result\'s `_meta["dev.snowmux/error"]` also says, for a client to act on without reading the message:',
    '`retryAfterMs` (milliseconds), when the refusal gives a time to retry after (`RATE_LIMITED`, `HUB_BUSY`,',
    '`QUOTA_EXCEEDED`, `WAREHOUSE_CIRCUIT_OPEN`), and `retryable`: `true` when the same call sent again (after',
    '`retryAfterMs`, if given) may succeed, that is a refusal with a retry time, a transient warehouse failure,',
    'or `HUB_STOPPING`, `HUB_SHUTTING_DOWN` and `POOL_EXHAUSTED` (the next hub, a freed connection);',
    '`false` otherwise, and always for a statement that may have changed data. No other detail of the error is',
    'sent there (details may quote the query or its data).',
  ];
  for (const [title, pick, note] of SECTIONS) {
    const rows = (Object.entries(ERROR_CODES) as [string, ErrorCodeFacts][]).filter(([, f]) => pick(f));
    out.push('', `## ${title}`, '');
    if (note) out.push(note, '');
    out.push('| code | meaning and what to do |', '|---|---|');
    for (const [code, facts] of rows) {
      const transient = facts.fault === 'infrastructure' ? (facts.transient ? ' (retried)' : ' (not retried)') : '';
      out.push(`| \`${code}\` | ${facts.doc.replace(/\|/g, '\\|')}${transient} |`);
    }
  }
  return `${out.join('\n')}\n`;
}
