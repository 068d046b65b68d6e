/** A word (a path, an argument) as a POSIX shell takes it when pasted: quoted only when it needs to be. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
