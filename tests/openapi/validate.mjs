// Validates an OpenAPI document with the pinned @seriousme/openapi-schema-validator.
// Usage: node validate.mjs [document.json | -]   (stdin when omitted or "-")
// Exit 0: valid OpenAPI 3.1; 1: invalid (the errors on stderr); 2: unreadable input.
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";

const source = process.argv[2] && process.argv[2] !== "-" ? process.argv[2] : 0;
let spec;
try {
  spec = JSON.parse(readFileSync(source, "utf8"));
} catch (e) {
  console.error(`cannot read the document: ${e.message}`);
  process.exit(2);
}
const validator = new Validator();
const result = await validator.validate(spec);
if (!result.valid) {
  console.error(JSON.stringify(result.errors, null, 2));
  process.exit(1);
}
if (!String(validator.version).startsWith("3.1")) {
  console.error(`expected OpenAPI 3.1, got ${validator.version}`);
  process.exit(1);
}
console.log(`valid OpenAPI ${validator.version}`);
