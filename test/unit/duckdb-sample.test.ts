import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  SAMPLE_FILE_NAME,
  SAMPLE_GENERATOR_VERSION,
  ensureSampleDatabase,
  readSampleStamp,
} from '../../src/hub/warehouse/duckdb/sample-database.js';

/** NATION and REGION as the TPC-H specification (clause 4.2.3) lists them: key, name, region key. */
const SPEC_REGIONS = ['AFRICA', 'AMERICA', 'ASIA', 'EUROPE', 'MIDDLE EAST'];
const SPEC_NATIONS: [number, string, number][] = [
  [0, 'ALGERIA', 0],
  [1, 'ARGENTINA', 1],
  [2, 'BRAZIL', 1],
  [3, 'CANADA', 1],
  [4, 'EGYPT', 4],
  [5, 'ETHIOPIA', 0],
  [6, 'FRANCE', 3],
  [7, 'GERMANY', 3],
  [8, 'INDIA', 2],
  [9, 'INDONESIA', 2],
  [10, 'IRAN', 4],
  [11, 'IRAQ', 4],
  [12, 'JAPAN', 2],
  [13, 'JORDAN', 4],
  [14, 'KENYA', 0],
  [15, 'MOROCCO', 0],
  [16, 'MOZAMBIQUE', 0],
  [17, 'PERU', 1],
  [18, 'CHINA', 2],
  [19, 'ROMANIA', 3],
  [20, 'SAUDI ARABIA', 4],
  [21, 'VIETNAM', 2],
  [22, 'RUSSIA', 3],
  [23, 'UNITED KINGDOM', 3],
  [24, 'UNITED STATES', 1],
];

const TPCH_COLUMNS: Record<string, string[]> = {
  REGION: ['R_REGIONKEY', 'R_NAME', 'R_COMMENT'],
  NATION: ['N_NATIONKEY', 'N_NAME', 'N_REGIONKEY', 'N_COMMENT'],
  SUPPLIER: ['S_SUPPKEY', 'S_NAME', 'S_ADDRESS', 'S_NATIONKEY', 'S_PHONE', 'S_ACCTBAL', 'S_COMMENT'],
  CUSTOMER: ['C_CUSTKEY', 'C_NAME', 'C_ADDRESS', 'C_NATIONKEY', 'C_PHONE', 'C_ACCTBAL', 'C_MKTSEGMENT', 'C_COMMENT'],
  PART: ['P_PARTKEY', 'P_NAME', 'P_MFGR', 'P_BRAND', 'P_TYPE', 'P_SIZE', 'P_CONTAINER', 'P_RETAILPRICE', 'P_COMMENT'],
  PARTSUPP: ['PS_PARTKEY', 'PS_SUPPKEY', 'PS_AVAILQTY', 'PS_SUPPLYCOST', 'PS_COMMENT'],
  ORDERS: ['O_ORDERKEY', 'O_CUSTKEY', 'O_ORDERSTATUS', 'O_TOTALPRICE', 'O_ORDERDATE', 'O_ORDERPRIORITY', 'O_CLERK', 'O_SHIPPRIORITY', 'O_COMMENT'],
  LINEITEM: [
    'L_ORDERKEY', 'L_PARTKEY', 'L_SUPPKEY', 'L_LINENUMBER', 'L_QUANTITY', 'L_EXTENDEDPRICE', 'L_DISCOUNT', 'L_TAX',
    'L_RETURNFLAG', 'L_LINESTATUS', 'L_SHIPDATE', 'L_COMMITDATE', 'L_RECEIPTDATE', 'L_SHIPINSTRUCT', 'L_SHIPMODE', 'L_COMMENT',
  ],
};

/** Every relation whose contents must be identical between two generations. */
const CHECKED_RELATIONS = [
  ...Object.keys(TPCH_COLUMNS).map((t) => `TPCH.${t}`),
  'TPCH.REVENUE_BY_NATION',
  'TPCH.CUSTOMER_ORDER_SUMMARY',
  'TPCH.TOP_PARTS',
  'TPCH.PRICING_SUMMARY',
  'SHOWCASE.TYPE_SAMPLES',
];

async function withReadOnly<T>(file: string, work: (q: (sql: string) => Promise<unknown[][]>) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  try {
    await connection.run('USE SNOWMUX_SAMPLE.TPCH');
    return await work(async (sql) => (await connection.runAndReadAll(sql)).getRowsJS() as unknown[][]);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

async function checksums(file: string): Promise<Record<string, string>> {
  return withReadOnly(file, async (q) => {
    const sums: Record<string, string> = {};
    for (const relation of CHECKED_RELATIONS) {
      const rows = await q(
        `SELECT count(*) || ':' || md5(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR))) FROM ${relation} t`,
      );
      sums[relation] = String(rows[0]?.[0]);
    }
    return sums;
  });
}

describe('sample database', () => {
  let root: string;
  let first: string;
  let second: string;

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'snowmux-sample-'));
    first = path.join(root, 'first');
    second = path.join(root, 'second');
    await ensureSampleDatabase(first);
    await ensureSampleDatabase(second);
  });

  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  test('REGION holds exactly the five TPC-H regions', async () => {
    const rows = await withReadOnly(path.join(first, SAMPLE_FILE_NAME), (q) => q('SELECT R_REGIONKEY, R_NAME FROM REGION ORDER BY 1'));
    assert.deepEqual(rows, SPEC_REGIONS.map((name, key) => [key, name]));
  });

  test('NATION holds exactly the 25 TPC-H nations with their region keys', async () => {
    const rows = await withReadOnly(path.join(first, SAMPLE_FILE_NAME), (q) => q('SELECT N_NATIONKEY, N_NAME, N_REGIONKEY FROM NATION ORDER BY 1'));
    assert.deepEqual(rows, SPEC_NATIONS);
  });

  test('the eight tables carry the standard TPC-H columns, in order, with TPC-H types', async () => {
    await withReadOnly(path.join(first, SAMPLE_FILE_NAME), async (q) => {
      for (const [table, columns] of Object.entries(TPCH_COLUMNS)) {
        const rows = await q(
          `SELECT column_name FROM duckdb_columns() WHERE database_name = 'SNOWMUX_SAMPLE' AND schema_name = 'TPCH' AND table_name = '${table}' ORDER BY column_index`,
        );
        assert.deepEqual(rows.map((r) => r[0]), columns, table);
      }
      const types = await q(
        `SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'TPCH' AND column_name IN ('L_EXTENDEDPRICE', 'O_TOTALPRICE', 'O_ORDERDATE', 'L_SHIPDATE', 'C_ACCTBAL', 'N_NAME') ORDER BY 1`,
      );
      assert.deepEqual(types, [
        ['C_ACCTBAL', 'DECIMAL(15,2)'],
        ['L_EXTENDEDPRICE', 'DECIMAL(15,2)'],
        ['L_SHIPDATE', 'DATE'],
        ['N_NAME', 'VARCHAR'],
        ['O_ORDERDATE', 'DATE'],
        ['O_TOTALPRICE', 'DECIMAL(15,2)'],
      ]);
    });
  });

  test('the generated tables are small, deterministic in size and consistent like TPC-H', async () => {
    await withReadOnly(path.join(first, SAMPLE_FILE_NAME), async (q) => {
      const counts = await q(`SELECT (SELECT count(*) FROM SUPPLIER), (SELECT count(*) FROM CUSTOMER), (SELECT count(*) FROM PART),
        (SELECT count(*) FROM PARTSUPP), (SELECT count(*) FROM ORDERS), (SELECT count(*) FROM LINEITEM)`);
      const [suppliers, customers, parts, partsupp, orders, lineitems] = (counts[0] ?? []).map(Number);
      assert.deepEqual([suppliers, customers, parts, partsupp, orders], [10, 150, 200, 800, 1500]);
      assert.ok(lineitems !== undefined && lineitems >= 4000 && lineitems <= 8000, `lineitems ${lineitems}`);
      // Every line's (part, supplier) is a PARTSUPP row; every key references an existing row.
      const orphans = await q(`SELECT
          (SELECT count(*) FROM LINEITEM l ANTI JOIN PARTSUPP ps ON ps.PS_PARTKEY = l.L_PARTKEY AND ps.PS_SUPPKEY = l.L_SUPPKEY),
          (SELECT count(*) FROM LINEITEM l ANTI JOIN ORDERS o ON o.O_ORDERKEY = l.L_ORDERKEY),
          (SELECT count(*) FROM ORDERS o ANTI JOIN CUSTOMER c ON c.C_CUSTKEY = o.O_CUSTKEY),
          (SELECT count(*) FROM CUSTOMER c ANTI JOIN NATION n ON n.N_NATIONKEY = c.C_NATIONKEY),
          (SELECT count(*) FROM SUPPLIER s ANTI JOIN NATION n ON n.N_NATIONKEY = s.S_NATIONKEY),
          (SELECT count(*) FROM ORDERS WHERE O_CUSTKEY % 3 = 0),
          (SELECT count(*) FROM PART WHERE P_RETAILPRICE * 100 <> 90000 + (P_PARTKEY // 10) % 20001 + 100 * (P_PARTKEY % 1000)),
          (SELECT count(*) FROM LINEITEM l JOIN PART p ON p.P_PARTKEY = l.L_PARTKEY WHERE l.L_EXTENDEDPRICE <> l.L_QUANTITY * p.P_RETAILPRICE),
          (SELECT count(*) FROM LINEITEM WHERE L_RECEIPTDATE <= L_SHIPDATE OR L_SHIPDATE <= (SELECT O_ORDERDATE FROM ORDERS WHERE O_ORDERKEY = L_ORDERKEY))`);
      assert.deepEqual((orphans[0] ?? []).map(Number), [0, 0, 0, 0, 0, 0, 0, 0, 0]);
      // O_TOTALPRICE is the sum of its lines (to the cent), O_ORDERSTATUS follows the line statuses.
      const totals = await q(`SELECT count(*) FROM ORDERS o JOIN (
          SELECT L_ORDERKEY, sum(round(L_EXTENDEDPRICE * (1 + L_TAX) * (1 - L_DISCOUNT), 2)) AS TOTAL,
                 CASE WHEN bool_and(L_LINESTATUS = 'F') THEN 'F' WHEN bool_and(L_LINESTATUS = 'O') THEN 'O' ELSE 'P' END AS STATUS
            FROM LINEITEM GROUP BY L_ORDERKEY) l ON l.L_ORDERKEY = o.O_ORDERKEY
         WHERE abs(o.O_TOTALPRICE - l.TOTAL) > 0.01 OR o.O_ORDERSTATUS <> l.STATUS`);
      assert.equal(Number(totals[0]?.[0]), 0);
    });
  });

  test('two generations produce identical contents in every table and view', async () => {
    const a = await checksums(path.join(first, SAMPLE_FILE_NAME));
    const b = await checksums(path.join(second, SAMPLE_FILE_NAME));
    assert.deepEqual(a, b);
    assert.equal(Object.keys(a).length, CHECKED_RELATIONS.length);
    for (const [relation, sum] of Object.entries(a)) assert.match(sum, /^[1-9]\d*:[0-9a-f]{32}$/, `${relation} is empty`);
  });

  test('views and comments exist', async () => {
    await withReadOnly(path.join(first, SAMPLE_FILE_NAME), async (q) => {
      const views = await q(`SELECT view_name, comment IS NOT NULL FROM duckdb_views() WHERE schema_name = 'TPCH' ORDER BY 1`);
      assert.deepEqual(views, [
        ['CUSTOMER_ORDER_SUMMARY', true],
        ['PRICING_SUMMARY', true],
        ['REVENUE_BY_NATION', true],
        ['TOP_PARTS', true],
      ]);
      const uncommented = await q(`SELECT count(*) FROM duckdb_columns() WHERE schema_name IN ('TPCH', 'SHOWCASE') AND comment IS NULL
        AND table_name NOT IN (SELECT view_name FROM duckdb_views())`);
      assert.equal(Number(uncommented[0]?.[0]), 0);
      const revenue = await q('SELECT count(*), count(DISTINCT NATION) FROM REVENUE_BY_NATION');
      assert.deepEqual(revenue[0]?.map(Number), [25, 25]);
    });
  });

  test('a built file is stamped and reused; the build leaves nothing else behind', async () => {
    assert.equal(await readSampleStamp(path.join(first, SAMPLE_FILE_NAME)), SAMPLE_GENERATOR_VERSION);
    const again = await ensureSampleDatabase(first);
    assert.equal(again.generated, false);
    assert.deepEqual(await fs.readdir(first), [SAMPLE_FILE_NAME]);
  });

  test('a file with another stamp, or not a database at all, is rebuilt', async () => {
    const dir = path.join(root, 'stale');
    const file = path.join(dir, SAMPLE_FILE_NAME);
    await fs.mkdir(dir);
    await fs.copyFile(path.join(first, SAMPLE_FILE_NAME), file);
    const writable = await DuckDBInstance.create(file);
    const connection = await writable.connect();
    await connection.run(`UPDATE SNOWMUX_SAMPLE.main.SNOWMUX_SAMPLE_INFO SET VALUE = 'old' WHERE KEY = 'generator_version'`);
    await connection.run('CHECKPOINT');
    connection.closeSync();
    writable.closeSync();
    assert.equal(await readSampleStamp(file), 'old');
    const rebuilt = await ensureSampleDatabase(dir);
    assert.equal(rebuilt.generated, true);
    assert.equal(await readSampleStamp(file), SAMPLE_GENERATOR_VERSION);

    await fs.writeFile(file, 'this is not a DuckDB file');
    assert.equal(await readSampleStamp(file), undefined);
    assert.equal((await ensureSampleDatabase(dir)).generated, true);
    assert.equal(await readSampleStamp(file), SAMPLE_GENERATOR_VERSION);
  });

  test('a build directory abandoned by a crashed process is cleaned up; a live one is left alone', async () => {
    const dir = path.join(root, 'crashed');
    await fs.mkdir(dir);
    const abandoned = path.join(dir, '.sample-build-999999999-deadbeef');
    await fs.mkdir(abandoned);
    await fs.writeFile(path.join(abandoned, SAMPLE_FILE_NAME), 'half-written');
    const live = path.join(dir, `.sample-build-${process.ppid}-cafebabe`);
    await fs.mkdir(live);
    await ensureSampleDatabase(dir);
    assert.deepEqual((await fs.readdir(dir)).sort(), [path.basename(live), SAMPLE_FILE_NAME].sort());
  });
});
