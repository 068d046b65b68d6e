// The floor for a forwarding shim: connect, say hello, pipe bytes both ways. Benchmarks only.
// The hub drops a link silent for 20 s: every 5 s, between whole lines, it says a pong (which the hub
// counts as hearing from it and does not answer, so its client sees nothing).
'use strict';
const net = require('node:net');
const s = net.connect(process.argv[2]);
s.write(JSON.stringify({ snowmux: 'hello', wire: 1, version: '0.1.0', role: 'shim', pid: process.pid }) + '\n');
let welcomed = false;
let buf = Buffer.alloc(0);
s.on('data', (c) => {
  if (welcomed) return void process.stdout.write(c);
  buf = Buffer.concat([buf, c]);
  const nl = buf.indexOf(10);
  if (nl < 0) return;
  welcomed = true;
  if (buf.length > nl + 1) process.stdout.write(buf.subarray(nl + 1));
});
let atLineEnd = true;
process.stdin.on('data', (c) => {
  s.write(c);
  atLineEnd = c[c.length - 1] === 10;
});
setInterval(() => atLineEnd && s.write('{"snowmux":"pong","n":0}\n'), 5000).unref();
s.on('close', () => process.exit(0));
