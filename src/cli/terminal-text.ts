/**
 * Text from clients (their names, their hello's parent command, tool names, SQL, error messages quoting
 * them) as a terminal may show it: control characters and invisible format characters become visible
 * `\u001b`-style escapes. Raw, an ESC sequence in a client name could set the title of the operator's
 * terminal, clear the screen or recolour what follows when `snowmux status` prints it.
 */
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\p{Cf}]/gu;

/** `text` with every character a terminal would act on (other than a newline) escaped. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
