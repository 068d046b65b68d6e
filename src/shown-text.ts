/**
 * A client's text (a name, a hello's parent command, SQL, a file path in a query) as the hub shows it back
 * in a message, a log or a terminal: control and invisible format characters become visible
 * `\u001b`-style escapes, and a piece quoted in an error is cut short. Raw, an ESC sequence could set the
 * title of the operator's terminal or clear the screen when `snowmux status` prints it, a right-to-left
 * override could make a refusal read as something else, and a 200 KB name would come back whole.
 */
/** Controls (C0 but the newline, DEL, C1), line separators and format characters (bidi, zero-width). */
const CONTROL_AND_FORMAT = '\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f\\u2028\\u2029\\p{Cf}';
/**
 * What a terminal shows escaped: those (U+009B alone is a CSI to xterm-family terminals), and what else
 * draws nothing or passes for something it is not: Unicode's default-ignorable code points (fillers,
 * variation selectors, the combining grapheme joiner), every space but the ASCII one, the braille blank,
 * lone surrogates, private-use and unassigned code points.
 */
const INVISIBLE = new RegExp(
  `[${CONTROL_AND_FORMAT}\\p{Default_Ignorable_Code_Point}\\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u2800\\u3000\\p{Cs}\\p{Co}\\p{Cn}]`,
  'gu',
);
/** Controls, separators, format characters and the newline: any of them makes a name not plain. */
const NOT_PLAIN = new RegExp(`[\\n${CONTROL_AND_FORMAT}]`, 'u');

/**
 * `text` with every character a terminal or an editor would act on or hide (other than a newline) escaped,
 * each as its own code point (`\u001b`, `\u{e0041}`): two texts that differ only in what cannot be seen
 * never look the same.
 */
export function escapeInvisible(text: string): string {
  return text.replace(INVISIBLE, codePointEscape);
}

/** `text` as one line: escaped like escapeInvisible, the newline too (a table cell, a row of a list). */
export function escapeLine(text: string): string {
  return escapeInvisible(text).replaceAll('\n', '\\u000a');
}

/**
 * JSON text (a --json output, a raw log line) with the same characters as JSON escapes, each UTF-16 unit
 * `\uXXXX`: it parses to the same value, and nothing in it acts on a terminal. JSON has no such character
 * outside a string, so every one is inside a string, where the escape is the same character.
 */
export function escapeInvisibleJson(json: string): string {
  return json.replace(INVISIBLE, unitEscapes);
}

function unitEscapes(c: string): string {
  let out = '';
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

function codePointEscape(c: string): string {
  const code = c.codePointAt(0)!;
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Whether `text` holds a control or invisible character (a newline included): not a plain name. */
export function hasInvisible(text: string): boolean {
  return NOT_PLAIN.test(text);
}

/** A piece of the client's text quoted in a one-line message: at most `max` characters of it, escaped (newlines too). */
export function shownText(text: string, max = 80): string {
  return escapeLine(text.length > max ? `${text.slice(0, max)}…` : text);
}

/**
 * A name the client sent (a tool, method, prompt or resource that does not exist), as an error shows it
 * back: cut to 80 characters, JSON-quoted, and escaped like shownText.
 */
export function shownName(name: string): string {
  return escapeInvisible(JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name));
}

/**
 * The name of a query parameter that carries a secret, by its spelling (`password=`, `pwd=`, `access_token=`,
 * `X-Amz-Signature=`, `sig=`, `apiKey=`…). Broad on purpose: a harmless parameter shown as `***` costs
 * nothing, a password shown in clear cannot be taken back. JDBC-style URLs separate parameters with `;`.
 */
const SECRET_PARAMETER = /([?&;][\w.-]*(?:pass|pwd|token|secret|key|auth|sig|credential)[\w.-]*=)[^&;#\s"'<>`]*/gi;

/**
 * Text with the user and password of any URL in it hidden (`https://***@host/`), the value of any query
 * parameter named like a secret (`?password=***`) and a webhook's or bot's secret path (hideSecretPaths): error texts (undici's, a driver's) quote URLs whole. The
 * user and password run to the last `@` of the URL before its query: a password may hold `/` or `@`, which
 * a client reading the URL leniently accepts unencoded, and hiding a path's `@` too costs little.
 */
export function hideUrlCredentials(text: string): string {
  return hideSecretPaths(text.replace(/\b([a-z][a-z0-9+.-]*:[/\\]{1,3})[^\s"'<>`?#]*@/gi, '$1***@').replace(SECRET_PARAMETER, '$1***'));
}

/** An http(s) URL's host (group 1, with the scheme) and path (group 2). */
const HTTP_URL_PATH = /\b(https?:\/\/[^\s"'<>`/?#\\]+)(\/[^\s"'<>`?#]*)/gi;
/** A host whose every URL is a webhook holding its secret in the path: hooks.slack.com, hooks.zapier.com, <tenant>.webhook.office.com. */
const WEBHOOK_HOST = /^(?:https?:\/\/)(?:[^@]*@)?(?:hooks\.|(?:[\w-]+\.)*webhook\.)/i;
/** A path segment after which a webhook's secret follows (Discord's /api/webhooks/<id>/<token>, Mattermost's /hooks/<key>, Teams' /IncomingWebhook/<key>). */
const WEBHOOK_SEGMENT = /^(?:web)?hooks?$|^webhookb2$|^incomingwebhook$/i;

/**
 * Text with the secret of every URL that carries one in its path hidden: a webhook's (the URL is the
 * credential: whoever has it can post as the integration), shown up to the part that names the service
 * (`https://hooks.slack.com/services/***`, `https://discord.com/api/webhooks/***`), and a Telegram bot's
 * token (`/bot***`).
 */
function hideSecretPaths(text: string): string {
  if (!/hook|\/bot\d/i.test(text)) return text;
  return text.replace(HTTP_URL_PATH, (_all, origin: string, path: string) => {
    const segments = path.split('/'); // ['', 'services', 'T…', …]
    let keep = segments.length;
    if (WEBHOOK_HOST.test(origin)) keep = 2;
    else {
      const at = segments.findIndex((segment, i) => i > 0 && WEBHOOK_SEGMENT.test(segment));
      if (at !== -1) keep = at + 1;
    }
    const shown = segments.slice(0, keep).map((segment) => segment.replace(/^bot\d+:[\w-]+$/, 'bot***'));
    const rest = segments.slice(keep);
    return `${origin}${[...shown, ...(rest.some((segment) => segment !== '') ? ['***'] : rest)].join('/')}`;
  });
}

/**
 * One URL the user gave (a --url, a redis_url, an account pasted as a URL) as a message may quote it:
 * everything between its scheme and its last `@` is hidden, so is a query parameter named like a secret.
 * Not parsed: a URL no parser reads (`redis://:pa/ss@host`, `redis:u:p@h`, a `?` or a space in the password)
 * still shows no password, and one that parses shows what was typed, not a normalised form. Without a
 * well-formed scheme (`rediss//:pw@host`, `user:pw@host`) everything up to the last `@` is hidden: a
 * mistyped scheme cannot be told from a user name and password.
 */
export function shownUrl(url: string): string {
  return hideSecretPaths(url.replace(/^([a-z][a-z0-9+.-]*:[/\\]*)?[\s\S]*@/i, (_all, scheme: string | undefined) => `${scheme ?? ''}***@`).replace(SECRET_PARAMETER, '$1***'));
}

/**
 * A snowmux API key (`smx_<12 hex id>_<secret>`) as a command line may hold it: whole, cut short or with
 * something pasted after it. The secret runs to the end of the word.
 */
const API_KEY_IN_TEXT = /\bsmx_([0-9a-f]{12})_[A-Za-z0-9_-]+/g;

/**
 * Text with the secret of every snowmux API key in it hidden (`smx_<id>_[REDACTED]`: the id still says
 * which key it was). What a command says about its arguments (an unexpected one, a file that cannot be
 * read) quotes them, and a key pasted where a file name or nothing was expected went with it to the
 * terminal, the editor's answer and its log.
 */
export function hideApiKeys(text: string): string {
  return text.includes('smx_') ? text.replace(API_KEY_IN_TEXT, 'smx_$1_[REDACTED]') : text;
}

/**
 * A quoted absolute path (`"/home/alice/.snowmux/x.duckdb"`, `'C:\Users\…'`, `"~/…"`) in an engine's or the
 * system's error text.
 */
const QUOTED_ABSOLUTE_PATH = /(["'])((?:\/|~[/\\]|\\\\|[A-Za-z]:[/\\])[^"'\n]*)\1/g;

/**
 * Error text as a caller of the hub may see it: every quoted absolute path in it shows its last part only
 * (`"…/x.duckdb"`), or nothing (`"…"`) when that part is the user's name (a home directory). An engine resolves
 * a relative name against the hub's working directory, and quotes its own directories (extensions, secrets)
 * whole: those are places in the hub user's home, which an editor (a teammate on a shared hub) is not told.
 * A line quoting the caller's own statement (DuckDB's `LINE 1: …`) is left as it was written.
 */
export function hideLocalPaths(text: string): string {
  if (!text.includes('/') && !text.includes('\\')) return text;
  const user = new Set([process.env['USER'], process.env['LOGNAME'], lastPart(process.env['HOME'] ?? '')].filter((s): s is string => !!s));
  return text
    .split('\n')
    .map((line) =>
      /^LINE \d+:/.test(line)
        ? line
        : line.replace(QUOTED_ABSOLUTE_PATH, (_all, quote: string, path: string) => {
            const last = lastPart(path);
            return `${quote}…${last === '' || last === '.' || last === '..' || user.has(last) ? '' : `/${last}`}${quote}`;
          }),
    )
    .join('\n');
}

function lastPart(path: string): string {
  return path.replace(/[/\\]+$/, '').split(/[/\\]/).pop() ?? '';
}
