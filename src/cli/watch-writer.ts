/**
 * Where `snowmux status --watch` draws its frames. On a terminal each frame is drawn over the last one:
 * cursor home, each line then clear-to-end-of-line, then clear to the end of the screen — no full clear,
 * so nothing flashes — fitted to the terminal, and a resize redraws the last frame. Anywhere else (a pipe,
 * a file, `| tee watch.log`) a frame is plain text under a header line with the time: cursor codes would
 * only be noise in a log, and the frames are kept in order to be read back.
 */
import type { WriteStream } from 'node:tty';
import { DEFAULT_SCREEN, watchScreen, type WatchFrame } from './watch-screen.js';

/** The first line of each frame written to something that is not a terminal. */
export const PLAIN_FRAME_HEADER = '--- snowmux status --watch';

export function watchWriter(out: NodeJS.WritableStream, now: () => Date = () => new Date()): (frame: WatchFrame) => void {
  const tty = out as Partial<WriteStream>;
  if (!tty.isTTY) {
    return (frame) => out.write(`${PLAIN_FRAME_HEADER} ${now().toISOString()}\n${watchScreen(frame, DEFAULT_SCREEN, now().getTime()).join('\n')}\n`);
  }
  const size = () => (tty.columns && tty.rows ? { columns: tty.columns, rows: tty.rows } : DEFAULT_SCREEN);
  let last: WatchFrame | null = null;
  const draw = (frame: WatchFrame) => {
    last = frame;
    out.write(`\x1b[H${watchScreen(frame, size(), now().getTime()).join('\x1b[K\n')}\x1b[K\x1b[J`);
  };
  tty.on?.('resize', () => last && draw(last));
  return draw;
}
