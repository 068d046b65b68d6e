/**
 * The stable snowmux code a transport-level refusal carries in its JSON-RPC `error.data.code`, as a tool's
 * or the SDK-facing refusals' errors do (UNKNOWN_TOOL): a refusal of /mcp (HTTP 400/404/405/406/409/415/
 * 429/503) or of the line transport (the socket, stdio: -32700, -32600, -32602, -32022, -32000) said what
 * happened only in its words and a JSON-RPC code several causes share, so a client could not tell a session
 * to open again (SESSION_NOT_FOUND) from a request to fix (INVALID_REQUEST) or a wait (RATE_LIMITED).
 */
import { RETRYABLE_CODES, type ErrorCode } from '../../error-codes.js';

/** What an HTTP status of /mcp says, whatever the JSON-RPC code. */
const BY_HTTP_STATUS: Readonly<Record<number, ErrorCode>> = {
  404: 'SESSION_NOT_FOUND',
  405: 'BAD_HTTP_REQUEST',
  406: 'BAD_HTTP_REQUEST',
  409: 'BAD_HTTP_REQUEST',
  415: 'BAD_HTTP_REQUEST',
  429: 'RATE_LIMITED',
  503: 'HUB_DRAINING',
};

/** What a JSON-RPC code says, on either face. */
const BY_RPC_CODE: Readonly<Record<number, ErrorCode>> = {
  [-32700]: 'PARSE_ERROR',
  [-32600]: 'INVALID_REQUEST',
  [-32602]: 'INVALID_REQUEST',
  [-32022]: 'PROTOCOL_VERSION_UNSUPPORTED',
  [-32001]: 'SESSION_NOT_FOUND',
  [-32603]: 'INTERNAL_ERROR',
};

/** The code of a refusal with JSON-RPC code `rpcCode`, answered with `httpStatus` over /mcp (absent on the line faces). */
export function refusalCode(rpcCode: number, httpStatus?: number): ErrorCode {
  const byStatus = httpStatus === undefined ? undefined : BY_HTTP_STATUS[httpStatus];
  if (byStatus !== undefined) return byStatus;
  const byRpc = Object.hasOwn(BY_RPC_CODE, rpcCode) ? BY_RPC_CODE[rpcCode] : undefined;
  return byRpc ?? (httpStatus === undefined ? 'SESSION_BUSY' : 'BAD_HTTP_REQUEST');
}

export interface RpcError {
  code: number;
  message: string;
  data?: unknown;
}

/**
 * `error` with `code` in its data (and whether the same request may succeed sent again), unless the data
 * already has a code. Data that is an object keeps its members; other data is kept as `detail`.
 */
export function withRefusalCode<E extends RpcError>(error: E, code: ErrorCode): E {
  const data = error.data;
  if (typeof data === 'object' && data !== null && !Array.isArray(data) && typeof (data as { code?: unknown }).code === 'string') return error;
  const coded = { code, retryable: RETRYABLE_CODES.has(code) };
  const merged = data === undefined ? coded : typeof data === 'object' && data !== null && !Array.isArray(data) ? { ...data, ...coded } : { ...coded, detail: data };
  return { ...error, data: merged };
}
