// The floor for a forwarding shim: connect, say hello, pipe bytes both ways. Benchmarks only.
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
process.stdin.pipe(s);
s.on('close', () => process.exit(0));
