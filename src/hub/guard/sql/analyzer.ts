/**
 * Decides what one statement is and whether it only reads.
 *
 * The approach is an allowlist over the token stream: a statement is read-only only if it opens like a
 * query (or SHOW / DESCRIBE / EXPLAIN / LIST) and nothing inside it can write. Inside a query the
 * analyzer looks for the ways a write hides in a read:
 * - data-changing statements in a CTE or any parenthesised group (`WITH x AS (DELETE …)`), or after
 *   the CTE list (`WITH a AS (SELECT 1) DELETE FROM t`);
 * - `SELECT … INTO`, `SELECT … FOR UPDATE`;
 * - calls to functions with side effects (see function-rules.ts), `TABLE(proc())`, `IDENTIFIER(…)(…)`;
 * - Snowflake's `->>` pipe operator chaining a write after a read;
 * - DuckDB replacement scans (`FROM 'file.csv'`) and `EXPLAIN ANALYZE`, which executes.
 * Everything is iterative over precomputed parenthesis matches; the only recursion is EXPLAIN /
 * DESCRIBE of an inner statement and pipe segments, bounded by MAX_NESTING.
 */

import { shownText } from '../../../shown-text.js';
import { duckdbFileHazard, duckdbReadsAsFile } from './duckdb-files.js';
import type { SqlDialect, Token } from './lexer.js';
import { isBuiltinTableFunction, judgeFunctionCall } from './function-rules.js';
import { QUERY_STARTERS, READ_KEYWORDS, READ_TYPES, STATEMENT_KEYWORDS, typeHazard, type StatementType } from './statement-types.js';

export interface StatementAnalysis {
  type: StatementType;
  /** Why the statement is not read-only; empty means read-only. */
  hazards: string[];
  /** Stage references and stage-file functions it uses (Snowflake). */
  stages: string[];
}

const MAX_NESTING = 8;

/** Words that continue an expression, so `(comment IS NULL)` is not a COMMENT statement. */
const EXPRESSION_CONTINUATIONS = new Set([
  'IS', 'AND', 'OR', 'NOT', 'IN', 'LIKE', 'ILIKE', 'RLIKE', 'REGEXP', 'GLOB', 'SIMILAR', 'BETWEEN', 'AS', 'ASC', 'DESC',
  'NULLS', 'OVER', 'FILTER', 'WITHIN', 'COLLATE', 'ESCAPE', 'THEN', 'ELSE', 'END', 'WHEN', 'FROM', 'IGNORE', 'RESPECT',
  'DIV', 'MOD', 'ISNULL', 'NOTNULL', 'ON', 'ORDER', 'GROUP', 'LIMIT',
]);

/** Words that end a FROM list at the current parenthesis depth. */
const FROM_LIST_ENDERS = new Set([
  'WHERE', 'GROUP', 'HAVING', 'QUALIFY', 'WINDOW', 'ORDER', 'LIMIT', 'OFFSET', 'FETCH', 'UNION', 'EXCEPT', 'INTERSECT',
  'MINUS', 'SELECT', 'RETURNING', 'CONNECT', 'START', 'VALUES', 'SET',
]);

/** What may follow MINUS as a set operator. */
const SET_OPERANDS = new Set(['SELECT', 'WITH', 'FROM', 'VALUES', 'TABLE', 'ALL', 'DISTINCT']);

/** Words before INTO that already make the statement a write, reported on their own. */
const INTO_OWNERS = new Set(['INSERT', 'MERGE', 'COPY', 'ALL', 'FIRST', 'OVERWRITE', 'REPLACE', 'UPSERT']);

/**
 * Word pairs that only ever open a write statement. Inside a query they are a syntax error in both
 * engines today; flagging them keeps a future parser leniency from turning into a write.
 */
const WRITE_OPENERS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ['DELETE', new Set(['FROM'])],
  ['INSERT', new Set(['INTO', 'OVERWRITE'])],
  ['MERGE', new Set(['INTO'])],
  ['COPY', new Set(['INTO'])],
  ['TRUNCATE', new Set(['TABLE'])],
  ['DROP', new Set(['TABLE', 'VIEW', 'SCHEMA', 'DATABASE'])],
  ['CREATE', new Set(['TABLE', 'VIEW', 'SCHEMA', 'DATABASE', 'OR', 'TEMP', 'TEMPORARY', 'TRANSIENT'])],
  ['ALTER', new Set(['TABLE', 'VIEW', 'SCHEMA', 'DATABASE', 'SESSION', 'USER', 'WAREHOUSE'])],
]);

/** Words after which DuckDB reads a table reference, and so a file name (`PIVOT 'x.csv' ON …`, `TABLE 'x.csv'`). */
const DUCKDB_TABLE_PREDECESSORS = new Set(['FROM', 'JOIN', 'PIVOT', 'UNPIVOT', 'PIVOT_WIDER', 'PIVOT_LONGER', 'TABLE', 'SHOW', 'DESCRIBE', 'DESC', 'SUMMARIZE']);

interface Level {
  /** The parenthesis holds a query (or is the statement itself), not a function's arguments. */
  query: boolean;
  inFrom: boolean;
  /** A parenthesised join group in a FROM list (`FROM (a JOIN b ON …)`): its items are table positions. */
  group?: boolean;
}

class Findings {
  readonly hazards: string[] = [];
  readonly stages: string[] = [];
  private readonly seen = new Set<string>();

  hazard(text: string): void {
    if (this.seen.has(text)) return;
    this.seen.add(text);
    this.hazards.push(text);
  }

  stage(text: string): void {
    if (!this.stages.includes(text)) this.stages.push(text);
  }

  absorb(other: Findings): void {
    for (const h of other.hazards) this.hazard(h);
    for (const s of other.stages) this.stage(s);
  }
}

export function analyzeStatement(tokens: readonly Token[], dialect: SqlDialect): StatementAnalysis {
  const analyzer = new StatementAnalyzer(tokens, dialect);
  return analyzer.run();
}

class StatementAnalyzer {
  /** For each "(" the index of its ")" and vice versa; -1 when unmatched or not a parenthesis. */
  private readonly match: Int32Array;
  private unbalanced = false;

  constructor(
    private readonly toks: readonly Token[],
    private readonly dialect: SqlDialect,
  ) {
    this.match = new Int32Array(toks.length).fill(-1);
    const stack: number[] = [];
    for (let i = 0; i < toks.length; i++) {
      const t = toks[i];
      if (t?.kind !== 'punct') continue;
      if (t.text === '(') stack.push(i);
      else if (t.text === ')') {
        const open = stack.pop();
        if (open === undefined) this.unbalanced = true;
        else {
          this.match[open] = i;
          this.match[i] = open;
        }
      }
    }
    if (stack.length > 0) this.unbalanced = true;
  }

  run(): StatementAnalysis {
    const findings = new Findings();
    const type = this.analyzeRange(0, this.toks.length, 0, findings);
    if (this.unbalanced) findings.hazard('the statement has unbalanced parentheses');
    if (READ_TYPES.has(type) && this.toks.some((t) => t.kind === 'semicolon')) {
      findings.hazard('the statement contains a semicolon, so it is more than one statement');
    }
    return { type, hazards: findings.hazards, stages: findings.stages };
  }

  // ---- token helpers -------------------------------------------------------------------------

  private tok(i: number): Token | undefined {
    return this.toks[i];
  }

  private word(i: number): string | undefined {
    const t = this.toks[i];
    return t?.kind === 'word' ? t.upper : undefined;
  }

  private isPunct(i: number, text: string): boolean {
    const t = this.toks[i];
    return t?.kind === 'punct' && t.text === text;
  }

  /** Index just past a parenthesised group starting at i, or -1 when it is not closed. */
  private after(i: number): number {
    const m = this.match[i] ?? -1;
    return m < 0 ? -1 : m + 1;
  }

  private skipOpenParens(i: number, to: number): number {
    while (i < to && this.isPunct(i, '(')) i++;
    return i;
  }

  // ---- statement level -----------------------------------------------------------------------

  private analyzeRange(from: number, to: number, depth: number, findings: Findings): StatementType {
    if (depth > MAX_NESTING) {
      findings.hazard('the statement is nested too deeply to check');
      return 'UNKNOWN';
    }
    if (this.dialect === 'snowflake') {
      const segments = this.pipeSegments(from, to);
      if (segments.length > 1) return this.analyzePipeline(segments, depth, findings);
    }
    return this.analyzeSingle(from, to, depth, findings);
  }

  /** Snowflake's flow operator: `SHOW TABLES ->> SELECT … FROM $1`. Each part is a statement of its own. */
  private pipeSegments(from: number, to: number): Array<[number, number]> {
    const segments: Array<[number, number]> = [];
    let start = from;
    for (let i = from; i < to; i++) {
      if (this.isPunct(i, '(')) {
        const next = this.after(i);
        if (next > 0) i = next - 1;
        continue;
      }
      if (this.isPunct(i, '->>')) {
        segments.push([start, i]);
        start = i + 1;
      }
    }
    segments.push([start, to]);
    return segments;
  }

  private analyzePipeline(segments: Array<[number, number]>, depth: number, findings: Findings): StatementType {
    let result: StatementType | undefined;
    let first: StatementType | undefined;
    for (const [from, to] of segments) {
      const part = new Findings();
      let type: StatementType = 'UNKNOWN';
      if (from < to) type = this.analyzeRange(from, to, depth + 1, part);
      else part.hazard('the ->> pipe operator has an empty side');
      first ??= type;
      if (!READ_TYPES.has(type)) findings.hazard(`${type} is chained with the ->> pipe operator`);
      findings.absorb(part);
      if (part.hazards.length > 0) result ??= type;
    }
    return result ?? first ?? 'UNKNOWN';
  }

  private analyzeSingle(from: number, to: number, depth: number, findings: Findings): StatementType {
    const k = this.skipOpenParens(from, to);
    const first = this.tok(k);
    const w = this.word(k);
    if (k >= to || first === undefined) {
      findings.hazard(typeHazard('UNKNOWN'));
      return 'UNKNOWN';
    }
    if (w !== undefined && QUERY_STARTERS.has(w)) return this.analyzeQuery(from, to, k, findings);
    if (k > from) {
      const type = (w && (STATEMENT_KEYWORDS.get(w) ?? READ_KEYWORDS.get(w))) || 'UNKNOWN';
      findings.hazard(type === 'UNKNOWN' ? 'only a query may be wrapped in parentheses' : `${w} inside parentheses is not a query`);
      if (!READ_TYPES.has(type)) findings.hazard(typeHazard(type));
      return type;
    }
    if (w === undefined) {
      findings.hazard(typeHazard('UNKNOWN'));
      return 'UNKNOWN';
    }
    const read = READ_KEYWORDS.get(w);
    if (read) return this.analyzeReadStatement(read, k, to, depth, findings);
    const type = this.writeStatementType(w, k);
    findings.hazard(typeHazard(type));
    const next = this.word(k + 1);
    if (type === 'ALTER' && next === 'SESSION') findings.hazard('ALTER SESSION changes session settings');
    if (type === 'UPDATE' && next === 'EXTENSIONS') findings.hazard('UPDATE EXTENSIONS downloads engine extensions');
    if (type === 'EXECUTE' && next === 'IMMEDIATE') findings.hazard('EXECUTE IMMEDIATE runs SQL built at run time, which cannot be checked');
    return type;
  }

  private writeStatementType(w: string, k: number): StatementType {
    const next = this.word(k + 1);
    switch (w) {
      case 'START':
        return next === 'TRANSACTION' ? 'BEGIN' : 'UNKNOWN';
      case 'FORCE':
        return next === 'INSTALL' ? 'INSTALL' : next === 'CHECKPOINT' ? 'CHECKPOINT' : 'UNKNOWN';
      case 'REPLACE':
        return next === 'INTO' ? 'INSERT' : 'UNKNOWN';
      case 'BEGIN': {
        if (this.dialect !== 'snowflake') return 'BEGIN';
        const follower = this.tok(k + 1);
        const transaction = follower === undefined || follower.kind === 'semicolon' || next === 'TRANSACTION' || next === 'WORK' || next === 'NAME';
        return transaction ? 'BEGIN' : 'SCRIPT';
      }
      default:
        return STATEMENT_KEYWORDS.get(w) ?? 'UNKNOWN';
    }
  }

  // ---- queries -------------------------------------------------------------------------------

  private analyzeQuery(from: number, to: number, k: number, findings: Findings): StatementType {
    let type: StatementType = k === from && this.word(k) === 'VALUES' ? 'VALUES' : 'SELECT';
    if (this.word(k) === 'WITH') {
      const limit = k > from ? Math.min(to, this.match[k - 1] ?? to) : to;
      const main = this.parseWith(k, limit < 0 ? to : limit, findings);
      if (k === from) type = this.mainAfterWith(main, to, findings) ?? type;
      else this.checkNestedMain(main, findings);
    }
    this.scanQuery(from, to, k, findings);
    return type;
  }

  /**
   * Parses `WITH [RECURSIVE] name [(cols)] [USING KEY (…)] AS [[NOT] MATERIALIZED] (body) [, …]`,
   * checking each body, and returns the index of the statement that follows (or -1).
   */
  private parseWith(w: number, limit: number, findings: Findings): number {
    let j = w + 1;
    if (this.word(j) === 'RECURSIVE') j++;
    for (;;) {
      const name = this.tok(j);
      if (j >= limit || name === undefined || (name.kind !== 'word' && name.kind !== 'quoted_ident')) return this.withUnparsed(findings);
      j++;
      if (this.isPunct(j, '(')) {
        j = this.after(j);
        if (j < 0) return this.withUnparsed(findings);
      }
      if (this.word(j) === 'USING' && this.word(j + 1) === 'KEY') {
        j += 2;
        if (this.isPunct(j, '(')) j = this.after(j);
        if (j < 0) return this.withUnparsed(findings);
      }
      if (this.word(j) !== 'AS') return this.withUnparsed(findings);
      j++;
      if (this.word(j) === 'NOT') j++;
      if (this.word(j) === 'MATERIALIZED') j++;
      const bodyWord = this.word(j);
      if (this.isPunct(j, '(')) {
        const close = this.match[j] ?? -1;
        if (close < 0) return this.withUnparsed(findings);
        this.checkCteBody(j + 1, close, findings);
        j = close + 1;
      } else if (bodyWord === 'PROCEDURE' || bodyWord === 'FUNCTION') {
        findings.hazard(`WITH … AS ${bodyWord} defines and runs an anonymous stored procedure`);
        return this.findTopLevelWord(j, limit, 'CALL');
      } else {
        return this.withUnparsed(findings);
      }
      if (this.isPunct(j, ',')) {
        j++;
        continue;
      }
      return j < limit ? j : -1;
    }
  }

  private withUnparsed(findings: Findings): number {
    findings.hazard('the WITH clause could not be parsed, so it cannot be checked');
    return -1;
  }

  private findTopLevelWord(from: number, to: number, word: string): number {
    for (let i = from; i < to; i++) {
      if (this.isPunct(i, '(')) {
        const next = this.after(i);
        if (next < 0) return -1;
        i = next - 1;
        continue;
      }
      if (this.word(i) === word) return i;
    }
    return -1;
  }

  private checkCteBody(from: number, to: number, findings: Findings): void {
    const b = this.skipOpenParens(from, to);
    const w = this.word(b);
    if (b >= to) {
      findings.hazard('a WITH clause has an empty body');
      return;
    }
    if (w !== undefined && QUERY_STARTERS.has(w)) return;
    if (w !== undefined && STATEMENT_KEYWORDS.has(w)) findings.hazard(`${w} inside a WITH clause is a write`);
    else if (w !== undefined && READ_KEYWORDS.has(w)) findings.hazard(`${w} inside a WITH clause is not a query`);
    else findings.hazard('a WITH clause contains something other than a query');
  }

  /** The statement after a top-level CTE list decides the statement's type. */
  private mainAfterWith(main: number, to: number, findings: Findings): StatementType | undefined {
    if (main < 0) return 'UNKNOWN';
    const m = this.skipOpenParens(main, to);
    const w = this.word(m);
    if (w !== undefined && QUERY_STARTERS.has(w)) return 'SELECT';
    if (w !== undefined && STATEMENT_KEYWORDS.has(w)) {
      const type = this.writeStatementType(w, m);
      findings.hazard(type === 'CALL' ? 'CALL after a WITH clause runs a stored procedure' : `${w} after a WITH clause is a write`);
      return type;
    }
    findings.hazard('no query follows the WITH clause');
    return 'UNKNOWN';
  }

  private checkNestedMain(main: number, findings: Findings): void {
    if (main < 0) return;
    const m = this.skipOpenParens(main, this.toks.length);
    const w = this.word(m);
    if (w !== undefined && QUERY_STARTERS.has(w)) return;
    if (w !== undefined && STATEMENT_KEYWORDS.has(w)) findings.hazard(`${w} after a WITH clause is a write`);
    else findings.hazard('no query follows a nested WITH clause');
  }

  /** Looks at every token of a query for hidden writes, file reads and stage access. */
  private scanQuery(from: number, to: number, topWith: number, findings: Findings): void {
    // One entry per open parenthesis: is it a query level, and are we inside its FROM list?
    const levels: Level[] = [{ query: true, inFrom: false }];
    for (let i = from; i < to; i++) {
      const t = this.toks[i];
      if (t === undefined) continue;
      const prev = i > from ? this.toks[i - 1] : undefined;
      const level = levels[levels.length - 1] ?? { query: true, inFrom: false };
      switch (t.kind) {
        case 'punct':
          if (t.text === '(') {
            const inner = this.word(i + 1);
            const startsQuery = inner !== undefined && QUERY_STARTERS.has(inner);
            if (!startsQuery && this.isTablePosition(prev, level)) {
              // `FROM (a JOIN 'f.csv' ON …)`: a join group, whose items are judged like the FROM list's own.
              levels.push({ query: true, inFrom: true, group: true });
            } else {
              levels.push({ query: this.isPunct(i + 1, '(') || startsQuery, inFrom: false });
            }
          } else if (t.text === ')') {
            if (levels.length > 1) levels.pop();
          } else if (t.text === '->>' && this.dialect === 'snowflake') {
            findings.hazard('the ->> pipe operator inside parentheses chains statements');
          }
          break;
        case 'semicolon':
          findings.hazard('the statement contains a semicolon, so it is more than one statement');
          break;
        case 'stage':
          findings.stage(t.text);
          break;
        case 'string':
        case 'dollar_string':
          if (this.isTablePosition(prev, level)) this.tableLiteral(t, findings);
          break;
        case 'quoted_ident':
          if (this.dialect === 'duckdb' && this.isTablePosition(prev, level)) this.duckdbTableName(i, findings);
          if (this.isPunct(i + 1, '(')) this.functionCall(t, t.upper ?? '', findings, i);
          // `seq."NEXTVAL"` is sequence access like `seq.NEXTVAL` (a quoted upper-case name is the same name).
          else if (t.upper === 'NEXTVAL' && prev?.kind === 'punct' && prev.text === '.') findings.hazard(`${shownText(t.text)} advances a sequence, which is a write`);
          break;
        case 'word':
          this.scanWord(t, i, from, to, topWith, prev, level, findings);
          break;
        default:
          break;
      }
    }
  }

  private scanWord(t: Token, i: number, from: number, to: number, topWith: number, prev: Token | undefined, level: Level, findings: Findings): void {
    const w = t.upper ?? '';
    const next = this.tok(i + 1);
    if (this.dialect === 'duckdb' && this.isTablePosition(prev, level)) this.duckdbTableName(i, findings);
    const prevWord = prev?.kind === 'word' ? prev.upper : undefined;
    const afterOpenParen = prev?.kind === 'punct' && prev.text === '(';
    if (afterOpenParen && STATEMENT_KEYWORDS.has(w) && this.looksLikeStatement(w, next)) {
      findings.hazard(`${w} inside parentheses is a write`);
    }
    const opener = WRITE_OPENERS.get(w);
    if (!afterOpenParen && opener && next?.kind === 'word' && opener.has(next.upper ?? '')) {
      findings.hazard(`${w} ${next.upper} appears inside the query`);
    }
    if (afterOpenParen && READ_KEYWORDS.has(w) && w !== 'DESC' && this.looksLikeStatement(w, next)) {
      findings.hazard(`${w} inside parentheses is not a query`);
    }
    if (w === 'WITH' && i !== topWith && (i === from || afterOpenParen)) {
      const limit = afterOpenParen ? (this.match[i - 1] ?? -1) : to;
      this.checkNestedMain(this.parseWith(i, limit < 0 ? to : limit, findings), findings);
    } else if (w === 'INTO' && !(prevWord !== undefined && INTO_OWNERS.has(prevWord)) && !this.isUnpivotInto(i)) {
      findings.hazard('SELECT … INTO writes the result into a table or variable');
    } else if (w === 'FOR') {
      const n1 = this.word(i + 1);
      const n2 = this.word(i + 2);
      if (n1 === 'UPDATE' || n1 === 'SHARE' || (n1 === 'NO' && n2 === 'KEY') || (n1 === 'KEY' && n2 === 'SHARE')) {
        findings.hazard('SELECT … FOR UPDATE locks rows, which needs write access');
      }
    } else if ((w === 'FROM' || w === 'JOIN') && level.query) {
      level.inFrom = true;
    } else if (FROM_LIST_ENDERS.has(w) && !this.isAlias(w, i, prevWord)) {
      level.inFrom = false;
    } else if (w === 'NEXTVAL' && prev?.kind === 'punct' && prev.text === '.') {
      findings.hazard(`${shownText(t.text)} advances a sequence, which is a write`);
    } else if ((w === 'PIVOT' || w === 'PIVOT_WIDER') && this.dialect === 'duckdb' && !this.isPunct(i + 1, '(') && this.isDynamicPivot(i, to)) {
      findings.hazard(`a DuckDB ${w} without an IN list first creates an ENUM type, which is a write; list the values with ON col IN (…)`);
    }
    if (next?.kind === 'punct' && next.text === '(') {
      if (w === 'TABLE' && this.dialect === 'snowflake') this.tableFunction(i + 1, findings);
      else if (w === 'IDENTIFIER') {
        const after = this.after(i + 1);
        if (after > 0 && this.isPunct(after, '(')) findings.hazard('calls a function named at run time with IDENTIFIER(…)');
      } else this.functionCall(t, w, findings, i);
    }
  }

  /**
   * A FROM-list ender used as a table alias (`FROM t AS set, pg_settings`, `FROM t start, u`): the list
   * goes on, and the names after it are still tables. START, CONNECT, MINUS, VALUES and SET are not
   * reserved everywhere; they end the list only in their clause's own form. Taking one for an alias
   * when it is not keeps checking names as tables (stricter); the other mistake would skip them.
   */
  private isAlias(w: string, i: number, prevWord: string | undefined): boolean {
    if (prevWord === 'AS') return true;
    const n1 = this.word(i + 1);
    switch (w) {
      case 'START':
        return n1 !== 'WITH';
      case 'CONNECT':
        return n1 !== 'BY';
      case 'MINUS':
        return !(this.isPunct(i + 1, '(') || (n1 !== undefined && SET_OPERANDS.has(n1)));
      case 'VALUES':
        return !this.isPunct(i + 1, '(');
      case 'SET': {
        // SET col = …, SET t.col = …
        const target = this.tok(i + 1);
        return !(target !== undefined && (target.kind === 'word' || target.kind === 'quoted_ident') && (this.isPunct(i + 2, '=') || this.isPunct(i + 2, '.')));
      }
      default:
        return false;
    }
  }

  /** DuckDB's `UNPIVOT t ON a, b INTO NAME k VALUE v` names output columns; it writes nothing. */
  private isUnpivotInto(into: number): boolean {
    return this.dialect === 'duckdb' && this.word(into + 1) === 'NAME' && this.word(into + 3) === 'VALUE';
  }

  /**
   * DuckDB's PIVOT statement (`PIVOT t ON a USING …`) runs `CREATE TYPE … AS ENUM` first unless every
   * ON column has an IN list. Checks the ON list at the PIVOT's own parenthesis level.
   */
  private isDynamicPivot(pivot: number, to: number): boolean {
    const end = (from: number): boolean => {
      const w = this.word(from);
      return from >= to || this.isPunct(from, ')') || this.tok(from)?.kind === 'semicolon' || w === 'USING' || w === 'GROUP' || w === 'ORDER' || w === 'LIMIT';
    };
    let j = pivot + 1;
    while (!end(j) && this.word(j) !== 'ON') j = this.isPunct(j, '(') && this.after(j) > 0 ? this.after(j) : j + 1;
    if (this.word(j) !== 'ON') return false; // not the statement form; the engine will reject it
    j++;
    let columnHasIn = false;
    for (; !end(j); ) {
      if (this.isPunct(j, ',')) {
        if (!columnHasIn) return true;
        columnHasIn = false;
      } else if (this.word(j) === 'IN') columnHasIn = true;
      j = this.isPunct(j, '(') && this.after(j) > 0 ? this.after(j) : j + 1;
    }
    return !columnHasIn;
  }

  /** A statement keyword right after "(" that is followed the way a statement would be. */
  private looksLikeStatement(w: string, next: Token | undefined): boolean {
    if (next === undefined) return false;
    switch (next.kind) {
      case 'quoted_ident':
      case 'string':
      case 'dollar_string':
      case 'stage':
      case 'variable':
        return true;
      case 'word':
        if (w === 'DELETE' && next.upper === 'FROM') return true;
        return !EXPRESSION_CONTINUATIONS.has(next.upper ?? '');
      case 'punct':
        return w === 'COPY' && next.text === '(';
      default:
        return false;
    }
  }

  /** Right after FROM / JOIN / a FROM-list comma, at a query level (not inside EXTRACT(… FROM …)). */
  private isTablePosition(prev: Token | undefined, level: Level): boolean {
    if (!level.query || prev === undefined) return false;
    if (prev.kind === 'word') {
      return prev.upper === 'FROM' || prev.upper === 'JOIN' || (this.dialect === 'duckdb' && DUCKDB_TABLE_PREDECESSORS.has(prev.upper ?? ''));
    }
    if (prev.kind !== 'punct') return false;
    return (prev.text === ',' && level.inFrom) || (prev.text === '(' && level.group === true);
  }

  /**
   * A table name in DuckDB that it would read as a file when no such table exists: a quoted name that
   * looks like a path (`"/tmp/x.parquet"`), or a dotted name ending in a file extension (`data.csv`,
   * `"data"."csv"`: see duckdb-files.ts).
   */
  private duckdbTableName(start: number, findings: Findings): void {
    const parts: Token[] = [];
    let j = start;
    for (;;) {
      const part = this.tok(j);
      if (part === undefined || (part.kind !== 'word' && part.kind !== 'quoted_ident')) break;
      parts.push(part);
      if (!this.isPunct(j + 1, '.')) break;
      j += 2;
    }
    if (this.isPunct(j + 1, '(')) return; // a table function: judged as a function call
    const last = parts[parts.length - 1];
    if (duckdbReadsAsFile(parts.map((p) => p.upper ?? ''))) {
      findings.hazard(duckdbFileHazard(shownText(parts.map((p) => p.text).join('.')), parts.map(partName)));
    }
    // DuckDB also exposes many table functions as views (`FROM pragma_database_list`, `FROM duckdb_databases`):
    // a bare name is judged exactly like the call it stands for. Quoting does not change the name (DuckDB
    // resolves identifiers case-insensitively), so the unescaped upper-cased name is what counts.
    const hazard = last?.upper === undefined ? undefined : judgeFunctionCall(last.upper, 'duckdb').hazard;
    if (hazard) findings.hazard(`reads ${last!.text}, which ${hazard}`);
  }

  /** A string where a table goes: DuckDB reads it as a file; Snowflake accepts '@stage/path'. */
  private tableLiteral(t: Token, findings: Findings): void {
    if (this.dialect === 'duckdb') {
      findings.hazard(`reads the file ${shownText(t.text)} directly (DuckDB replacement scan)`);
    } else if (/^'\s*@/.test(t.text)) {
      findings.stage(t.text);
    }
  }

  private functionCall(t: Token, name: string, findings: Findings, at: number): void {
    if (name === '') return;
    const verdict = judgeFunctionCall(name, this.dialect, this.literalArgument(at + 2));
    if (verdict.hazard) findings.hazard(`calls ${shownText(t.text)}, which ${verdict.hazard}`);
    if (verdict.stageAccess) findings.stage(`${t.text}()`);
  }

  /** The value of a call's argument at `i` when it is a plain string literal followed by `,` or `)`. */
  private literalArgument(i: number): string | undefined {
    const t = this.tok(i);
    if (t?.kind !== 'string' || !(this.isPunct(i + 1, ',') || this.isPunct(i + 1, ')'))) return undefined;
    return /^'([^'\\]*)'$/.exec(t.text)?.[1];
  }

  /** Snowflake TABLE(<name>(…)): fine for built-in table functions, a hazard for anything that may be a procedure. */
  private tableFunction(open: number, findings: Findings): void {
    let j = open + 1;
    const first = this.tok(j);
    if (first === undefined || (first.kind !== 'word' && first.kind !== 'quoted_ident')) return;
    const names = [first.upper ?? ''];
    while (this.isPunct(j + 1, '.')) {
      const part = this.tok(j + 2);
      if (part === undefined || (part.kind !== 'word' && part.kind !== 'quoted_ident')) return;
      names.push(part.upper ?? '');
      j += 2;
    }
    if (!this.isPunct(j + 1, '(')) return;
    if (names.length === 1 && names[0] === 'IDENTIFIER' && first.kind === 'word') return;
    // A quoted name is whatever object carries exactly that name, not necessarily the built-in.
    if (first.kind === 'quoted_ident' || !isBuiltinTableFunction(names)) {
      const shown = this.toks.slice(open + 1, j + 1).map((x) => x.text).join('');
      findings.hazard(`TABLE(${shownText(shown)}(…)) may run a stored procedure, which can write`);
    }
  }

  // ---- SHOW / DESCRIBE / EXPLAIN / LIST ---------------------------------------------------------

  private analyzeReadStatement(type: StatementType, k: number, to: number, depth: number, findings: Findings): StatementType {
    if (type === 'EXPLAIN') return this.analyzeExplain(k, to, depth, findings);
    if (type === 'LIST') {
      this.scanQuery(k, to, -1, findings);
      const target = this.tok(k + 1);
      if (target?.kind === 'string' && /^'\s*@/.test(target.text)) findings.stage(target.text);
      return 'LIST';
    }
    // SHOW / DESCRIBE / DESC / SUMMARIZE: of an object, or (DuckDB) of a query.
    const j = k + 1;
    const next = this.tok(j);
    const w = this.word(j);
    if (this.isPunct(j, '(') || (w !== undefined && QUERY_STARTERS.has(w))) {
      this.analyzeInnerQuery(type, j, to, depth, findings);
      return type;
    }
    if (w !== undefined && STATEMENT_KEYWORDS.has(w) && this.looksLikeStatement(w, this.tok(j + 1))) {
      findings.hazard(`${type} of ${withArticle(STATEMENT_KEYWORDS.get(w) ?? 'UNKNOWN')} statement: only queries and objects can be described in a read-only session`);
    }
    if (this.dialect === 'duckdb' && next !== undefined) {
      if (next.kind === 'string' || next.kind === 'dollar_string') {
        findings.hazard(`reads the file ${shownText(next.text)} directly (DuckDB replacement scan)`);
      } else if (next.kind === 'quoted_ident' && !this.isPunct(j + 1, '.') && duckdbReadsAsFile([next.upper ?? ''])) {
        // A lone name only: the first part of a qualified one is a schema (the whole name is judged in scanQuery).
        findings.hazard(duckdbFileHazard(shownText(next.text), [partName(next)]));
      }
    }
    this.scanQuery(k, to, -1, findings);
    return type;
  }

  private analyzeExplain(k: number, to: number, depth: number, findings: Findings): StatementType {
    let j = k + 1;
    const analyze = (x: string | undefined): boolean => x === 'ANALYZE' || x === 'ANALYSE';
    if (analyze(this.word(j))) {
      findings.hazard('EXPLAIN ANALYZE runs the statement it explains');
      j++;
    }
    if (this.isPunct(j, '(')) {
      const inner = this.word(j + 1);
      const isQuery = this.isPunct(j + 1, '(') || (inner !== undefined && QUERY_STARTERS.has(inner));
      if (!isQuery) {
        const close = this.match[j] ?? -1;
        if (close < 0) return 'EXPLAIN';
        for (let x = j + 1; x < close; x++) {
          if (analyze(this.word(x))) findings.hazard('EXPLAIN ANALYZE runs the statement it explains');
        }
        j = close + 1;
      }
    }
    if (this.word(j) === 'USING') j += 2; // Snowflake: EXPLAIN USING TABULAR | JSON | TEXT
    if (this.word(j) === 'VERBOSE') j++;
    if (j >= to) {
      findings.hazard('EXPLAIN needs a statement to explain');
      return 'EXPLAIN';
    }
    this.analyzeInnerQuery('EXPLAIN', j, to, depth, findings);
    return 'EXPLAIN';
  }

  /** EXPLAIN / DESCRIBE of a statement: fine only when that statement is a read-only query. */
  private analyzeInnerQuery(outer: StatementType, from: number, to: number, depth: number, findings: Findings): void {
    const inner = new Findings();
    const innerType = this.analyzeRange(from, to, depth + 1, inner);
    if (innerType !== 'SELECT' && innerType !== 'VALUES') {
      findings.hazard(`${outer} of ${withArticle(innerType)} statement: only queries can be explained or described in a read-only session`);
    }
    findings.absorb(inner);
  }
}

function withArticle(type: string): string {
  return `${/^[AEIOU]/.test(type) ? 'an' : 'a'} ${type}`;
}

/** A name part as the engine sees it: a quoted one unescaped, in its own case (DuckDB keeps the case of a path). */
function partName(t: Token): string {
  return t.kind === 'quoted_ident' ? t.text.slice(1, -1).replace(/""/g, '"') : t.text;
}
