/**
 * What the Cortex tools ask of a warehouse and what it answers: Cortex Analyst (a question over a semantic
 * view or a semantic model file → an answer and usually one SQL statement) and Cortex Search (a query over
 * a search service → ranked rows). Only Snowflake serves them; names arrive here already resolved.
 */
import type { JsonValue, ObjectRef } from './types.js';

/** A semantic model file on a stage: `@DB.SCHEMA.STAGE/path/model.yaml`, its stage resolved. */
export interface StagedFile {
  stage: ObjectRef;
  /** The path inside the stage, without a leading slash. */
  path: string;
}

/** One earlier turn of a conversation with Cortex Analyst: the question, or the analyst's answer (its text and SQL). */
export interface AnalystTurn {
  role: 'user' | 'analyst';
  text: string;
  sql?: string | undefined;
}

export interface AnalystRequest {
  question: string;
  /** Earlier turns, oldest first, so a follow-up ("and last year?") is read in context. */
  history?: AnalystTurn[] | undefined;
  /** Exactly one of the two. */
  semanticView?: ObjectRef | undefined;
  semanticModelFile?: StagedFile | undefined;
}

export interface AnalystReply {
  /** The analyst's explanation (or why it could not answer). */
  text: string;
  /** The SQL it generated, when it could answer with one. */
  sql?: string | undefined;
  /** Questions it suggests when the question was ambiguous. */
  suggestions: string[];
  warnings: string[];
  /** Whether a verified query of the model was used. */
  verifiedQuery?: string | undefined;
  requestId?: string | undefined;
}

export interface SearchRequest {
  query: string;
  /** Columns to return (the service's attributes or search column); the service's default when empty. */
  columns: string[];
  /** Cortex Search filter syntax (`@eq`, `@and`, …), passed through as JSON. */
  filter?: JsonValue | undefined;
  limit: number;
}

export interface SearchReply {
  results: Record<string, JsonValue>[];
  requestId?: string | undefined;
}
