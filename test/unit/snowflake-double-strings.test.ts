/**
 * The Snowflake test double reads string literals as Snowflake does, so a test of the hub against it sees
 * the value a real account would store and return (it read '\x41' as 'x41' before).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenize } from '../doubles/snowflake/sql-text.js';

const valueOf = (literal: string): string | undefined => tokenize(literal).find((t) => t.kind === 'string')?.value;

test("Snowflake's string escapes: letters, NUL, octal, hex, unicode, and any other character as itself", () => {
  assert.equal(valueOf(String.raw`'a\nb\tc\rd\be\ff'`), 'a\nb\tc\rd\be\ff');
  assert.equal(valueOf(String.raw`'\0x'`), '\0x');
  assert.equal(valueOf(String.raw`'\101\102'`), 'AB');
  assert.equal(valueOf(String.raw`'\x41\x7a'`), 'Az');
  assert.equal(valueOf(String.raw`'\u00e9\u20AC'`), 'é€');
  assert.equal(valueOf(String.raw`'it\'s \\ ok \q'`), "it's \\ ok q");
  assert.equal(valueOf("'it''s'"), "it's");
});
