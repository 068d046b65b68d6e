#!/usr/bin/env node
// Kept tiny: the shim's start-up time is a product feature. Each command is imported only when used.
import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2)));
