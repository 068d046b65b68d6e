/**
 * A hub's /events (Server-Sent Events) read in the background: `events` parsed as they come, `raw()` the
 * text so far, `waitFor` resolving on the first matching event or failing after `ms` with what came.
 * Never read to its end (the stream never ends): the test's cleanup aborts it.
 */
import assert from 'node:assert/strict';
import { defer, type Cleanup } from './harness.js';

export interface HubEvent {
  event: string;
  data: Record<string, unknown>;
}

export interface EventStream {
  events: HubEvent[];
  raw(): string;
  waitFor(pred: (e: HubEvent) => boolean, ms?: number): Promise<HubEvent>;
}

export async function openEventStream(t: Cleanup, url: string, headers: Record<string, string>): Promise<EventStream> {
  const abort = new AbortController();
  defer(t, () => abort.abort());
  const res = await fetch(`${url}/events`, { headers, signal: abort.signal });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const events: HubEvent[] = [];
  let text = '';
  let ended = false;
  let wake: () => void = () => {};
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body!) {
        const piece = decoder.decode(chunk as Uint8Array, { stream: true });
        text += piece;
        buffer += piece;
        let i: number;
        while ((i = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
        }
        wake();
      }
    } catch {
      /* aborted by the cleanup */
    }
    ended = true;
    wake();
  })();
  return {
    events,
    raw: () => text,
    async waitFor(pred, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (!events.some(pred)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no such event within ${ms} ms; saw ${JSON.stringify(events)}`);
        if (ended) throw new Error(`the /events stream ended; saw ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return events.find(pred)!;
    },
  };
}
