// Reads an Arrow IPC stream with the JavaScript Arrow implementation
// (npm apache-arrow) and prints what it sees as JSON, so that a Go test can
// check that another implementation reads lk's streams the same way.
//
//   NODE_PATH=.deps/node/node_modules node testdata/interop/read_stream.mjs FILE
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";

const require = createRequire(resolve(process.env.NODE_PATH) + "/");
const { tableFromIPC } = require("apache-arrow");

const table = tableFromIPC(readFileSync(process.argv[2]));
const out = {
  fields: table.schema.fields.map((f) => `${f.name}:${f.type}`),
  shape: table.schema.metadata.get("lk.shape"),
  rows: table.numRows,
  ids: [],
  labels: [],
  sums: [],
  first: [],
};
for (const row of table) {
  out.ids.push(row.id);
  out.labels.push(row.label);
  const img = row.image.toArray();
  let s = 0;
  for (const v of img) s += v;
  out.sums.push(s);
  out.first.push(Array.from(img.slice(0, 4)));
}
console.log(JSON.stringify(out));
