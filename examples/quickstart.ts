/**
 * Quick start: two MCP clients (the v2 SDK client and the v1 SDK client, as editors use) each launch
 * `snowmux shim` exactly as an editor would. The first shim starts the hub; both share it. They list
 * tools, explore the embedded sample warehouse, run a query, and get a write refused. Then
 * `snowmux status` shows the hub's view, and `snowmux stop` ends it.
 *
 *   npm ci && npm run demo
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'bin', 'snowmux.js');
const keep = process.argv.includes('--keep');
const home = process.env.SNOWMUX_HOME ?? mkdtempSync(join(tmpdir(), 'snowmux-demo-'));
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SNOWMUX_HOME: home };

type Text = { content: { type: string; text?: string }[]; isError?: boolean };
const text = (r: unknown) => (r as Text).content.map((c) => c.text ?? '').join('\n');
const step = (title: string) => console.log(`\n\x1b[1m── ${title}\x1b[0m`);

// With SNOWMUX_HOME set, the demo may meet a hub that is already running there (yours, serving your
// editors): it joins that hub and leaves it running instead of stopping it at the end.
const hubAnswers = (): boolean => [0, 3].includes(spawnSync(process.execPath, [cli, 'status', '--json'], { env, encoding: 'utf8' }).status ?? -1);

let joined = false;

async function main(): Promise<void> {
  console.log(`snowmux quick start (home: ${home})`);
  joined = process.env.SNOWMUX_HOME !== undefined && hubAnswers();
  if (joined) console.log(`A hub is already running in ${home}: the demo joins it and leaves it running.`);

  step(`Editor 1 (MCP SDK v2 client, 2026-07-28 protocol) launches \`snowmux shim\` — ${joined ? 'it joins the running hub' : 'it starts the hub'}`);
  let t0 = performance.now();
  const a = new Client({ name: 'demo-editor-v2', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await a.connect(new StdioClientTransport({ command: process.execPath, args: [cli, 'shim'], env, stderr: 'inherit' }));
  console.log(`connected in ${(performance.now() - t0).toFixed(0)} ms${joined ? '' : ' (cold: includes starting the hub)'}`);
  const { tools } = await a.listTools();
  console.log(`tools: ${tools.map((t) => t.name).join(', ')}`);

  step('Editor 2 (MCP SDK v1 client, 2025 protocol) launches its own shim — it joins the same hub');
  t0 = performance.now();
  const b = new ClientV1({ name: 'demo-editor-v1', version: '1.0.0' });
  await b.connect(new StdioV1({ command: process.execPath, args: [cli, 'shim'], env, stderr: 'inherit' }));
  console.log(`connected in ${(performance.now() - t0).toFixed(0)} ms (warm hub)`);

  step('list_tables (editor 1)');
  console.log(text(await a.callTool({ name: 'list_tables', arguments: {} })));

  step('execute_query (editor 2): revenue by region');
  console.log(text(await b.callTool({
    name: 'execute_query',
    arguments: {
      query: `SELECT R_NAME AS REGION, COUNT(*) AS ORDERS, SUM(O_TOTALPRICE) AS REVENUE
              FROM ORDERS JOIN CUSTOMER ON O_CUSTKEY = C_CUSTKEY
              JOIN NATION ON C_NATIONKEY = N_NATIONKEY JOIN REGION ON N_REGIONKEY = R_REGIONKEY
              GROUP BY R_NAME ORDER BY REVENUE DESC`,
    },
  })));

  step('A write is refused (editor 1)');
  const refused = (await a.callTool({ name: 'execute_query', arguments: { query: 'DELETE FROM ORDERS' } })) as Text;
  console.log(`isError=${refused.isError}: ${text(refused)}`);

  step('snowmux status');
  const status = spawnSync(process.execPath, [cli, 'status'], { env, encoding: 'utf8' });
  process.stdout.write(status.stdout || status.stderr);

  await a.close();
  await b.close();
  if (joined) {
    console.log(`\nThe hub in ${home} was running before the demo and is left running (\`snowmux stop\` ends it).`);
  } else if (keep) {
    console.log(`\nThe hub keeps running (--keep): SNOWMUX_HOME=${home} snowmux status, then snowmux stop.`);
  } else {
    step('snowmux stop');
    const stop = spawnSync(process.execPath, [cli, 'stop'], { env, encoding: 'utf8' });
    process.stdout.write(stop.stdout || stop.stderr);
  }
}

main()
  .catch((err) => {
    // A hub the demo started is stopped; the home is kept so its logs can be read.
    if (!joined && !keep) spawnSync(process.execPath, [cli, 'stop'], { env, encoding: 'utf8' });
    console.error(`demo failed: ${(err as Error).message}\nSee ${home}/hub.log and ${home}/hub-stderr.log${process.env.SNOWMUX_HOME ? '' : ` (remove ${home} when done)`}.`);
    process.exitCode = 1;
  })
  .finally(() => {
    if (!keep && !process.env.SNOWMUX_HOME && process.exitCode !== 1) setTimeout(() => rmSync(home, { recursive: true, force: true }), 500);
  });
