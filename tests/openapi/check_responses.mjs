// Validates real responses against the schemas an OpenAPI 3.1 document gives their route.
// Usage: node check_responses.mjs <document.json> <cases.json>
// cases.json: [{"method":"get","path":"/api/v1/sessions/{id}","status":200,"body":{...}}, ...]
// Every component schema is compiled (strict), then each body is validated against the schema
// of its route, status and application/json. Exit 0 when all match; 1 with the errors.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [docFile, casesFile] = process.argv.slice(2);
if (!docFile || !casesFile) {
  console.error("usage: node check_responses.mjs <document.json> <cases.json>");
  process.exit(2);
}
const doc = JSON.parse(readFileSync(docFile, "utf8"));
const cases = JSON.parse(readFileSync(casesFile, "utf8"));

// Component references become local definitions, so each schema stands alone.
const local = (schema) =>
  JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"#/$defs/'));
const defs = local(doc.components?.schemas ?? {});

const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
addFormats(ajv);
const compile = (schema) => ajv.compile({ ...local(schema), $defs: defs });

let failures = 0;
const fail = (what, detail) => {
  failures += 1;
  console.error(`FAIL ${what}: ${detail}`);
};

for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
  try {
    compile(schema);
  } catch (e) {
    fail(`component ${name}`, e.message);
  }
}

for (const c of cases) {
  const what = `${c.method.toUpperCase()} ${c.path} ${c.status}`;
  const response = doc.paths?.[c.path]?.[c.method]?.responses?.[String(c.status)];
  const schema = response?.content?.["application/json"]?.schema;
  if (!schema) {
    fail(what, "the document has no application/json schema for it");
    continue;
  }
  let validate;
  try {
    validate = compile(schema);
  } catch (e) {
    fail(what, `schema does not compile: ${e.message}`);
    continue;
  }
  if (!validate(c.body)) fail(what, JSON.stringify(validate.errors));
  else console.log(`ok   ${what}`);
}
process.exit(failures === 0 ? 0 : 1);
