#!/usr/bin/env node
'use strict';
// CommonJS on purpose: it starts a few ms faster than an ESM entry (the shim's start-up is a product
// feature), and it runs before anything touches libuv's thread pool, so the pool can still be sized:
// each running DuckDB statement holds one pool thread, and the hub's logs and audit need the others.
const command = process.argv[2];
if ((command === 'hub' || command === 'stdio') && !process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = '8';
import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2)));
