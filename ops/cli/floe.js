#!/usr/bin/env node
// The `floe` command. Floe is written in TypeScript and runs through tsx, so there is no
// build step between `npm ci` and `npx floe`.
require('tsx/cjs');
require('./main.ts')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
