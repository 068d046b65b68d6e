/**
 * A client's text (a name, a hello's parent command, SQL, a file path in a query) as the hub shows it back
 * in a message, a log or a terminal: control and invisible format characters become visible
 * `\u001b`-style escapes, and a piece quoted in an error is cut short. Raw, an ESC sequence could set the
 * title of the operator's terminal or clear the screen when `snowmux status` prints it, a right-to-left
 * override could make a refusal read as something else, and a 200 KB name would come back whole.
 */
/** Controls (C0 but the newline, DEL, C1), line separators and format characters (bidi, zero-width). */
const INVISIBLE_CLASS = '\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f\\u2028\\u2029\\p{Cf}';
const INVISIBLE = new RegExp(`[${INVISIBLE_CLASS}]`, 'gu');
/** The same, and the newline: any of them makes a name not plain. */
const NOT_PLAIN = new RegExp(`[\\n${INVISIBLE_CLASS}]`, 'u');

/** `text` with every character a terminal or an editor would act on or hide (other than a newline) escaped. */
export function escapeInvisible(text: string): string {
  return text.replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Whether `text` holds a control or invisible character (a newline included): not a plain name. */
export function hasInvisible(text: string): boolean {
  return NOT_PLAIN.test(text);
}

/** A piece of the client's text quoted in a one-line message: at most `max` characters of it, escaped (newlines too). */
export function shownText(text: string, max = 80): string {
  return escapeInvisible(text.length > max ? `${text.slice(0, max)}…` : text).replaceAll('\n', '\\u000a');
}

/**
 * A name the client sent (a tool, method, prompt or resource that does not exist), as an error shows it
 * back: cut to 80 characters, JSON-quoted, and escaped like shownText.
 */
export function shownName(name: string): string {
  return escapeInvisible(JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name));
}
