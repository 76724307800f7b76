// openapi-validate.mjs - validate an OpenAPI document with an independent
// OpenAPI 3.1 validator (@seriousme/openapi-schema-validator, from npm).
//   node openapi-validate.mjs MODULE_DIR FILE
// Prints "valid" or the validator's errors as JSON; exit 0 only when valid.
import { createRequire } from "node:module";
import path from "node:path";

const [dir, file] = process.argv.slice(2);
const require = createRequire(path.join(dir, "package.json"));
const entry = require.resolve("@seriousme/openapi-schema-validator");
const { Validator } = await import(entry);
const validator = new Validator();
const res = await validator.validate(file);
if (res.valid && validator.version !== "3.1") {
	console.log(JSON.stringify({ error: "not 3.1: " + validator.version }));
	process.exit(1);
}
console.log(res.valid ? "valid" : JSON.stringify(res.errors, null, 1));
process.exit(res.valid ? 0 : 1);
