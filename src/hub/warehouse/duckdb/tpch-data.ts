/**
 * Deterministic TPC-H-shaped rows for the embedded sample warehouse.
 *
 * NATION and REGION are exactly the rows the TPC-H specification lists (keys, names, region keys).
 * The other tables follow the specification's value rules (retail price formula, date windows, return
 * flag / line status against the "current date" 1995-06-17, order status from its lines) at a tiny
 * scale, drawn from a seeded PRNG so every generation yields identical data. Money is kept in integer
 * cents so nothing is ever rounded through a float.
 */

export const TPCH_REGIONS: readonly { key: number; name: string }[] = [
  { key: 0, name: 'AFRICA' },
  { key: 1, name: 'AMERICA' },
  { key: 2, name: 'ASIA' },
  { key: 3, name: 'EUROPE' },
  { key: 4, name: 'MIDDLE EAST' },
];

export const TPCH_NATIONS: readonly { key: number; name: string; regionKey: number }[] = [
  { key: 0, name: 'ALGERIA', regionKey: 0 },
  { key: 1, name: 'ARGENTINA', regionKey: 1 },
  { key: 2, name: 'BRAZIL', regionKey: 1 },
  { key: 3, name: 'CANADA', regionKey: 1 },
  { key: 4, name: 'EGYPT', regionKey: 4 },
  { key: 5, name: 'ETHIOPIA', regionKey: 0 },
  { key: 6, name: 'FRANCE', regionKey: 3 },
  { key: 7, name: 'GERMANY', regionKey: 3 },
  { key: 8, name: 'INDIA', regionKey: 2 },
  { key: 9, name: 'INDONESIA', regionKey: 2 },
  { key: 10, name: 'IRAN', regionKey: 4 },
  { key: 11, name: 'IRAQ', regionKey: 4 },
  { key: 12, name: 'JAPAN', regionKey: 2 },
  { key: 13, name: 'JORDAN', regionKey: 4 },
  { key: 14, name: 'KENYA', regionKey: 0 },
  { key: 15, name: 'MOROCCO', regionKey: 0 },
  { key: 16, name: 'MOZAMBIQUE', regionKey: 0 },
  { key: 17, name: 'PERU', regionKey: 1 },
  { key: 18, name: 'CHINA', regionKey: 2 },
  { key: 19, name: 'ROMANIA', regionKey: 3 },
  { key: 20, name: 'SAUDI ARABIA', regionKey: 4 },
  { key: 21, name: 'VIETNAM', regionKey: 2 },
  { key: 22, name: 'RUSSIA', regionKey: 3 },
  { key: 23, name: 'UNITED KINGDOM', regionKey: 3 },
  { key: 24, name: 'UNITED STATES', regionKey: 1 },
];

/** Row counts of the generated tables (NATION and REGION are fixed by the specification). */
export const TPCH_SCALE = {
  suppliers: 10,
  customers: 150,
  parts: 200,
  suppliersPerPart: 4,
  orders: 1500,
} as const;

export interface RegionRow { R_REGIONKEY: number; R_NAME: string; R_COMMENT: string }
export interface NationRow { N_NATIONKEY: number; N_NAME: string; N_REGIONKEY: number; N_COMMENT: string }
export interface SupplierRow {
  S_SUPPKEY: number; S_NAME: string; S_ADDRESS: string; S_NATIONKEY: number; S_PHONE: string;
  /** cents */ S_ACCTBAL: number; S_COMMENT: string;
}
export interface CustomerRow {
  C_CUSTKEY: number; C_NAME: string; C_ADDRESS: string; C_NATIONKEY: number; C_PHONE: string;
  /** cents */ C_ACCTBAL: number; C_MKTSEGMENT: string; C_COMMENT: string;
}
export interface PartRow {
  P_PARTKEY: number; P_NAME: string; P_MFGR: string; P_BRAND: string; P_TYPE: string; P_SIZE: number;
  P_CONTAINER: string; /** cents */ P_RETAILPRICE: number; P_COMMENT: string;
}
export interface PartSuppRow {
  PS_PARTKEY: number; PS_SUPPKEY: number; PS_AVAILQTY: number; /** cents */ PS_SUPPLYCOST: number; PS_COMMENT: string;
}
export interface OrderRow {
  O_ORDERKEY: number; O_CUSTKEY: number; O_ORDERSTATUS: string; /** cents */ O_TOTALPRICE: number;
  /** days since 1970-01-01 */ O_ORDERDATE: number; O_ORDERPRIORITY: string; O_CLERK: string; O_SHIPPRIORITY: number;
  O_COMMENT: string;
}
export interface LineItemRow {
  L_ORDERKEY: number; L_PARTKEY: number; L_SUPPKEY: number; L_LINENUMBER: number;
  /** whole units; stored as DECIMAL(15,2) */ L_QUANTITY: number; /** cents */ L_EXTENDEDPRICE: number;
  /** hundredths */ L_DISCOUNT: number; /** hundredths */ L_TAX: number; L_RETURNFLAG: string; L_LINESTATUS: string;
  /** days since 1970-01-01 */ L_SHIPDATE: number; L_COMMITDATE: number; L_RECEIPTDATE: number;
  L_SHIPINSTRUCT: string; L_SHIPMODE: string; L_COMMENT: string;
}

export interface TpchData {
  region: RegionRow[];
  nation: NationRow[];
  supplier: SupplierRow[];
  customer: CustomerRow[];
  part: PartRow[];
  partsupp: PartSuppRow[];
  orders: OrderRow[];
  lineitem: LineItemRow[];
}

const SEGMENTS = ['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'HOUSEHOLD', 'MACHINERY'];
const PRIORITIES = ['1-URGENT', '2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW'];
const SHIP_INSTRUCTIONS = ['DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN'];
const SHIP_MODES = ['REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB'];
const TYPE_SYLLABLE_1 = ['STANDARD', 'SMALL', 'MEDIUM', 'LARGE', 'ECONOMY', 'PROMO'];
const TYPE_SYLLABLE_2 = ['ANODIZED', 'BURNISHED', 'PLATED', 'POLISHED', 'BRUSHED'];
const TYPE_SYLLABLE_3 = ['TIN', 'NICKEL', 'BRASS', 'STEEL', 'COPPER'];
const CONTAINER_SYLLABLE_1 = ['SM', 'LG', 'MED', 'JUMBO', 'WRAP'];
const CONTAINER_SYLLABLE_2 = ['CASE', 'BOX', 'BAG', 'JAR', 'PKG', 'PACK', 'CAN', 'DRUM'];
const COLORS = (
  'almond antique aquamarine azure beige bisque black blanched blue blush brown burlywood burnished chartreuse ' +
  'chiffon chocolate coral cornflower cornsilk cream cyan dark deep dim dodger drab firebrick floral forest ' +
  'frosted gainsboro ghost goldenrod green grey honeydew hot indian ivory khaki lace lavender lawn lemon light ' +
  'lime linen magenta maroon medium metallic midnight mint misty moccasin navajo navy olive orange orchid pale ' +
  'papaya peach peru pink plum powder puff purple red rose rosy royal saddle salmon sandy seashell sienna sky ' +
  'slate smoke snow spring steel tan thistle tomato turquoise violet wheat white yellow'
).split(' ');
const NOUNS = (
  'foxes ideas theodolites pinto_beans instructions dependencies excuses platelets asymptotes courts dolphins ' +
  'multipliers sauternes warthogs frets dinos attainments somas patterns forges braids frays warhorses dugouts ' +
  'epitaphs pearls tithes waters orbits gifts sheaves depths sentiments decoys realms pains grouches escapades ' +
  'packages requests accounts deposits'
).split(' ').map((w) => w.replace('_', ' '));
const VERBS = (
  'sleep wake are cajole haggle nag use boost affix detect integrate maintain nod lose sublate solve thrash ' +
  'promise engage hinder print breach eat grow impress mold poach serve run dazzle snooze doze unwind kindle ' +
  'play hang believe doubt'
).split(' ');
const ADJECTIVES = (
  'furious sly careful blithe quick fluffy slow quiet ruthless thin close dogged daring brave stealthy ' +
  'permanent enticing idle busy regular final ironic even bold silent pending special express unusual'
).split(' ');
const ADVERBS = (
  'sometimes always never furiously slyly carefully blithely quickly fluffily slowly quietly ruthlessly ' +
  'thinly closely doggedly daringly bravely stealthily permanently enticingly idly busily regularly finally ' +
  'ironically evenly boldly silently'
).split(' ');
const PREPOSITIONS = (
  'about above across after against along among around at atop before behind beneath beside between beyond ' +
  'by despite during except for from inside into near of on outside over past since through toward under ' +
  'until upon without with within'
).split(' ');
const TERMINATORS = ['.', ';', ':', '?', '!', '--'];

/** 1992-01-01 and 1998-12-31 as days since the epoch; TPC-H's CURRENTDATE is 1995-06-17. */
const START_DATE = daysFromCivil(1992, 1, 1);
const END_DATE = daysFromCivil(1998, 12, 31);
const CURRENT_DATE = daysFromCivil(1995, 6, 17);

export function generateTpchData(): TpchData {
  const region = TPCH_REGIONS.map((r) => ({
    R_REGIONKEY: r.key,
    R_NAME: r.name,
    R_COMMENT: comment(rngFor(`region:${r.key}`), 31, 115),
  }));
  const nation = TPCH_NATIONS.map((n) => ({
    N_NATIONKEY: n.key,
    N_NAME: n.name,
    N_REGIONKEY: n.regionKey,
    N_COMMENT: comment(rngFor(`nation:${n.key}`), 31, 114),
  }));

  const supplier: SupplierRow[] = [];
  const srng = rngFor('supplier');
  for (let key = 1; key <= TPCH_SCALE.suppliers; key++) {
    const nationKey = srng.int(0, 24);
    supplier.push({
      S_SUPPKEY: key,
      S_NAME: `Supplier#${pad(key, 9)}`,
      S_ADDRESS: srng.alnum(10, 40),
      S_NATIONKEY: nationKey,
      S_PHONE: phone(srng, nationKey),
      S_ACCTBAL: srng.int(-99_999, 999_999),
      S_COMMENT: comment(srng, 25, 100),
    });
  }

  const customer: CustomerRow[] = [];
  const crng = rngFor('customer');
  for (let key = 1; key <= TPCH_SCALE.customers; key++) {
    const nationKey = crng.int(0, 24);
    customer.push({
      C_CUSTKEY: key,
      C_NAME: `Customer#${pad(key, 9)}`,
      C_ADDRESS: crng.alnum(10, 40),
      C_NATIONKEY: nationKey,
      C_PHONE: phone(crng, nationKey),
      C_ACCTBAL: crng.int(-99_999, 999_999),
      C_MKTSEGMENT: crng.pick(SEGMENTS),
      C_COMMENT: comment(crng, 29, 116),
    });
  }

  const part: PartRow[] = [];
  const prng = rngFor('part');
  for (let key = 1; key <= TPCH_SCALE.parts; key++) {
    const mfgr = prng.int(1, 5);
    part.push({
      P_PARTKEY: key,
      P_NAME: prng.distinct(COLORS, 5).join(' '),
      P_MFGR: `Manufacturer#${mfgr}`,
      P_BRAND: `Brand#${mfgr}${prng.int(1, 5)}`,
      P_TYPE: `${prng.pick(TYPE_SYLLABLE_1)} ${prng.pick(TYPE_SYLLABLE_2)} ${prng.pick(TYPE_SYLLABLE_3)}`,
      P_SIZE: prng.int(1, 50),
      P_CONTAINER: `${prng.pick(CONTAINER_SYLLABLE_1)} ${prng.pick(CONTAINER_SYLLABLE_2)}`,
      P_RETAILPRICE: retailPriceCents(key),
      P_COMMENT: comment(prng, 5, 22),
    });
  }

  const partsupp: PartSuppRow[] = [];
  const psrng = rngFor('partsupp');
  for (let key = 1; key <= TPCH_SCALE.parts; key++) {
    for (let i = 0; i < TPCH_SCALE.suppliersPerPart; i++) {
      partsupp.push({
        PS_PARTKEY: key,
        PS_SUPPKEY: supplierForPart(key, i),
        PS_AVAILQTY: psrng.int(1, 9999),
        PS_SUPPLYCOST: psrng.int(100, 100_000),
        PS_COMMENT: comment(psrng, 49, 198),
      });
    }
  }

  const orders: OrderRow[] = [];
  const lineitem: LineItemRow[] = [];
  const orng = rngFor('orders');
  const lrng = rngFor('lineitem');
  for (let i = 0; i < TPCH_SCALE.orders; i++) {
    // Sparse keys as in dbgen: 8 used out of every 32.
    const orderKey = Math.floor(i / 8) * 32 + (i % 8) + 1;
    let custKey = orng.int(1, TPCH_SCALE.customers);
    // As in the specification, every third customer never orders.
    while (custKey % 3 === 0) custKey = orng.int(1, TPCH_SCALE.customers);
    const orderDate = orng.int(START_DATE, END_DATE - 151);
    const lineCount = lrng.int(1, 7);
    let totalCents = 0;
    let shipped = 0;
    for (let line = 1; line <= lineCount; line++) {
      const partKey = lrng.int(1, TPCH_SCALE.parts);
      const quantity = lrng.int(1, 50);
      const discount = lrng.int(0, 10);
      const tax = lrng.int(0, 8);
      const shipDate = orderDate + lrng.int(1, 121);
      const commitDate = orderDate + lrng.int(30, 90);
      const receiptDate = shipDate + lrng.int(1, 30);
      const extended = quantity * retailPriceCents(partKey);
      const returnFlag = receiptDate <= CURRENT_DATE ? (lrng.int(0, 1) === 0 ? 'R' : 'A') : 'N';
      const lineStatus = shipDate > CURRENT_DATE ? 'O' : 'F';
      if (lineStatus === 'F') shipped++;
      totalCents += Math.round((extended * (100 + tax) * (100 - discount)) / 10_000);
      lineitem.push({
        L_ORDERKEY: orderKey,
        L_PARTKEY: partKey,
        L_SUPPKEY: supplierForPart(partKey, lrng.int(0, TPCH_SCALE.suppliersPerPart - 1)),
        L_LINENUMBER: line,
        L_QUANTITY: quantity,
        L_EXTENDEDPRICE: extended,
        L_DISCOUNT: discount,
        L_TAX: tax,
        L_RETURNFLAG: returnFlag,
        L_LINESTATUS: lineStatus,
        L_SHIPDATE: shipDate,
        L_COMMITDATE: commitDate,
        L_RECEIPTDATE: receiptDate,
        L_SHIPINSTRUCT: lrng.pick(SHIP_INSTRUCTIONS),
        L_SHIPMODE: lrng.pick(SHIP_MODES),
        L_COMMENT: comment(lrng, 10, 43),
      });
    }
    orders.push({
      O_ORDERKEY: orderKey,
      O_CUSTKEY: custKey,
      O_ORDERSTATUS: shipped === lineCount ? 'F' : shipped === 0 ? 'O' : 'P',
      O_TOTALPRICE: totalCents,
      O_ORDERDATE: orderDate,
      O_ORDERPRIORITY: orng.pick(PRIORITIES),
      O_CLERK: `Clerk#${pad(orng.int(1, 10), 9)}`,
      O_SHIPPRIORITY: 0,
      O_COMMENT: comment(orng, 19, 78),
    });
  }

  return { region, nation, supplier, customer, part, partsupp, orders, lineitem };
}

/** The specification's P_RETAILPRICE formula, in cents. */
export function retailPriceCents(partKey: number): number {
  return 90_000 + (Math.floor(partKey / 10) % 20_001) + 100 * (partKey % 1000);
}

/** The i-th of a part's four suppliers: distinct for i = 0..3 with 10 suppliers (offsets 0, 3, 6, 9). */
function supplierForPart(partKey: number, i: number): number {
  const step = Math.ceil(TPCH_SCALE.suppliers / TPCH_SCALE.suppliersPerPart);
  return ((partKey - 1 + i * step) % TPCH_SCALE.suppliers) + 1;
}

function phone(rng: Rng, nationKey: number): string {
  return `${nationKey + 10}-${rng.int(100, 999)}-${rng.int(100, 999)}-${rng.int(1000, 9999)}`;
}

/** A dbgen-flavoured sentence stream, cut to a length between min and max. */
function comment(rng: Rng, min: number, max: number): string {
  const target = rng.int(min, max);
  let text = '';
  while (text.length < target) {
    const sentence =
      `${rng.pick(ADVERBS)} ${rng.pick(ADJECTIVES)} ${rng.pick(NOUNS)} ${rng.pick(VERBS)} ` +
      `${rng.pick(PREPOSITIONS)} the ${rng.pick(ADJECTIVES)} ${rng.pick(NOUNS)}${rng.pick(TERMINATORS)}`;
    text = text.length === 0 ? sentence : `${text} ${sentence}`;
  }
  return text.slice(0, target).trimEnd();
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function daysFromCivil(year: number, month: number, day: number): number {
  return Math.round(Date.UTC(year, month - 1, day) / 86_400_000);
}

export interface Rng {
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  distinct<T>(items: readonly T[], count: number): T[];
  alnum(minLength: number, maxLength: number): string;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789,';

/** One independent PRNG stream per name (mulberry32 seeded by FNV-1a), so tables don't depend on each other. */
export function rngFor(name: string): Rng {
  let seed = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) seed = Math.imul(seed ^ name.charCodeAt(i), 0x01000193) >>> 0;
  let state = seed;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)] as T;
  return {
    int,
    pick,
    distinct<T>(items: readonly T[], count: number): T[] {
      const chosen = new Set<number>();
      while (chosen.size < count) chosen.add(int(0, items.length - 1));
      return [...chosen].map((i) => items[i] as T);
    },
    alnum(minLength: number, maxLength: number): string {
      const length = int(minLength, maxLength);
      let text = '';
      for (let i = 0; i < length; i++) text += ALNUM[int(0, ALNUM.length - 1)];
      return text;
    },
  };
}
