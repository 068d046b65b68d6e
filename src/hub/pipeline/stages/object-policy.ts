/**
 * Statement stage: the role's object rules. SQL naming an object the role may not use is refused (from
 * sql-policy's reading); a metadata call about a denied database, schema or object is refused, and a
 * listing is filtered to what the role may see; a result is paged only by the identity that ran it, and
 * by a role that uses only some objects only when that role computed it.
 */
import { SnowmuxError } from '../../../errors.js';
import { shownText } from '../../../shown-text.js';
import { enforceObject, enforceObjectsOfReading } from '../../policy/enforce.js';
import { policyDenied } from '../../policy/policy.js';
import { withoutUnseenGuesses } from '../../policy/engine-guesses.js';
import { resultReads, type ResultRead } from '../../policy/result-reads.js';
import { statementContext } from '../../names/statement-context.js';
import { sessionName, sessionRef, type SessionNames } from '../../names/session-names.js';
import type { ResultOwner } from '../../governance/governance.js';
import { namesToJudge, roleNow, type OperationResults, type Statement, type StatementStage } from '../statement.js';

export const objectPolicy: StatementStage = {
  name: 'object-policy',
  async run(st, next) {
    const { role, target } = st.scope;
    const op = st.op;
    switch (op.kind) {
      case 'query':
      case 'explain': {
        if (!st.reading) throw new SnowmuxError('INTERNAL_ERROR', 'SQL reached the object rules without being read (the sql-policy stage must run first).');
        // Snowflake: names as its sessions resolve them (an account's or user's QUOTED_IDENTIFIERS_IGNORE_CASE,
        // SEARCH_PATH, read at login); the statement carries what it was judged with, and a session that
        // resolves names otherwise does not run it (snowflake-warehouse.ts). The call's database and schema
        // too: `"weather"` given as the schema is where the session lands, WEATHER under the ignore-case setting.
        const names = judgeWith(st);
        const statement = statementContext(target, op.options.database, op.options.schema);
        const context = { database: sessionName(statement.database, names), schema: sessionName(statement.schema, names) };
        st.namesToResolve = enforceObjectsOfReading(role, st.reading, names ? { ...context, names } : context);
        // Reading an earlier result in SQL is fetch_results by another path: the same owner rule.
        for (const read of resultReads(st.reading)) await checkResultRead(st, read);
        if (!role.objectsRestricted) return next();
        try {
          return await next();
        } catch (err) {
          // The engine's guess at a mistyped name comes from the whole catalog: kept only when the role may see it.
          throw withoutUnseenGuesses(err, role, context);
        }
      }
      case 'fetch':
      case 'profile':
        st.resultOwner = await checkResultOwner(st, op.queryId);
        return next();
      case 'facts':
        // How another identity's statements ran is theirs to see, unless the role sees every identity's history.
        if (role.queryHistory !== 'all') for (const id of op.queryIds) await checkResultOwner(st, id);
        return next();
      // A listing is filtered by the role as it is when the answer comes back: a reload while it waited (or
      // since its call began, the answer from the metadata cache) hides what the role may no longer see.
      case 'databases': {
        const all = (await next()) as OperationResults['databases'];
        const seer = roleNow(st.scope);
        return all.filter((d) => seer.canSee({ database: d.name }));
      }
      // A name a tool was given is judged as the session reads it, like a name in SQL (see judgeWith).
      case 'schemas': {
        const database = sessionName(op.database, judgeWith(st));
        enforceObject(role, { database }, 'database');
        const all = (await next()) as OperationResults['schemas'];
        const seer = roleNow(st.scope);
        return all.filter((s) => seer.canSee({ database, schema: s.name }));
      }
      case 'objects': {
        const { database, schema } = sessionRef({ database: op.database, schema: op.schema }, judgeWith(st));
        enforceObject(role, { database, schema }, 'schema');
        const all = (await next()) as OperationResults['objects'];
        const seer = roleNow(st.scope);
        return all.filter((o) => seer.canSee({ database, schema, name: o.name }));
      }
      case 'describe':
        enforceObject(role, sessionRef(op.ref, judgeWith(st)), op.objectKind);
        return next();
      case 'details': {
        enforceObject(role, sessionRef(op.ref, judgeWith(st)), op.objectKind);
        const details = (await next()) as OperationResults['details'];
        const seer = roleNow(st.scope);
        // A tag is an object too: a role sees the tags whose names its rules allow.
        return details.tags ? { ...details, tags: details.tags.filter((t) => seer.canSee(t.tag)) } : details;
      }
      case 'analyst':
        // The model decides which tables its SQL reads; that SQL passes these rules again when it runs.
        if (op.request.semanticView) enforceObject(role, sessionRef(op.request.semanticView, judgeWith(st)), 'semantic view');
        if (op.request.semanticModelFile) enforceObject(role, sessionRef(op.request.semanticModelFile.stage, judgeWith(st)), 'stage');
        return next();
      case 'search':
        enforceObject(role, sessionRef(op.service, judgeWith(st)), 'Cortex Search service');
        return next();
    }
  },
};

/**
 * The name settings this statement's names are judged with (namesToJudge), kept on it: the warehouse runs it
 * only on a session that reads names the same way, and the metadata cache keeps its answers apart by them.
 */
function judgeWith(st: Statement): SessionNames | undefined {
  const names = namesToJudge(st.scope);
  if (names === undefined) delete st.judgedNames;
  else st.judgedNames = names;
  return names;
}

async function checkResultRead(st: Statement, read: ResultRead): Promise<void> {
  if (read.queryId !== undefined && read.queryId.length <= 200) {
    await checkResultOwner(st, read.queryId);
    return;
  }
  const why = read.lastQueryId
    ? `LAST_QUERY_ID() names the previous statement of the pooled connection this call runs on, which was another call's, possibly another user's`
    : 'snowmux can check that a result is yours only when its query id is written as a plain string literal';
  throw policyDenied(
    `Query refused: ${read.via} reads an earlier query's result, and ${why} (rule: result-owner). ` +
      `Pass the query id reported by execute_query as a literal (${read.via === 'DESCRIBE RESULT' ? "DESCRIBE RESULT '<query id>'" : `${read.via}('<query id>')`})${st.scope.role.toolAllowed('fetch_results') ? ', or use fetch_results to page it' : ''}.`,
    { rule: 'result-owner', via: read.via },
  );
}

/**
 * Snowflake keeps results per Snowflake user, and every session of a profile shares that user; the hub
 * is what keeps one identity from paging another's result. Within one identity, a result is also kept from
 * a role that may use only some objects unless that role computed it: one user's editors can run under
 * different roles (`clients`), and the narrower one must not read through paging what it may not query.
 * The role's rules count, not only its name: a reload that tightens a role keeps what it computed under the
 * looser rules from it. A role that may use every object may read whatever the result read, so it pages its
 * identity's results whichever role ran them. Answers the owner (undefined when the hub does not know who ran the query).
 */
async function checkResultOwner(st: Statement, queryId: string): Promise<ResultOwner | undefined> {
  const { governance, identity, role } = st.scope;
  const owner = await governance.resultOwners.ownerOf(queryId);
  if (owner === undefined) {
    // Unknown may mean forgotten (see owner-store.ts): then it may be anyone's, and no one pages it.
    const gap = governance.resultOwners.unknownGap?.();
    if (gap !== undefined) {
      throw policyDenied(
        `Access denied: snowmux does not know who ran query ${shownText(queryId)}, and it may be another user's: ${gap.why}. ` +
          `Until ${new Date(gap.until).toISOString()} a result whose owner the hub does not know is paged by no one (rule: result-owner). Run the query again with execute_query, and page that result.`,
        { rule: 'result-owner', reason: 'owner-unknown', until: new Date(gap.until).toISOString() },
      );
    }
    if (!role.objectsRestricted) return undefined;
    throw policyDenied(
      `Access denied: query ${shownText(queryId)} was not run through this hub by you, and role "${role.name}" may only use some objects (rule: result-owner). Run the query again with execute_query.`,
      { rule: 'result-owner' },
    );
  }
  if (owner.identity !== identity) {
    throw policyDenied(
      `Access denied: query ${shownText(queryId)} was run by another user; results can only be read by whoever ran the query (rule: result-owner). Run the query yourself.`,
      { rule: 'result-owner' },
    );
  }
  if (!role.objectsRestricted) return owner;
  if (owner.role === role.name && owner.rules === role.objectRules) return owner;
  if (owner.role === role.name) {
    throw policyDenied(
      `Access denied: query ${shownText(queryId)} was computed under role "${role.name}"'s object rules as they were before the hub's configuration changed them, ` +
        `and a role that may use only some objects reads only results computed under its rules as they are now (rule: result-owner). Run the query again with execute_query; it is checked against the current rules.`,
      { rule: 'result-owner', role: role.name, reason: 'rules-changed' },
    );
  }
  throw policyDenied(
    `Access denied: query ${shownText(queryId)} was run under ${owner.role === undefined ? 'another role' : `role "${owner.role}"`}, and this editor's role "${role.name}" ` +
      `may only use some objects, so it reads only results computed under its own role (rule: result-owner). Run the query with execute_query from this editor; it is checked against "${role.name}"'s rules.`,
    { rule: 'result-owner', role: role.name, ...(owner.role === undefined ? {} : { ownerRole: owner.role }) },
  );
}
