import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { it } from "node:test";
import { configReference } from "../../scripts/configReference.ts";

it("docs/configuration.md matches the settings the code declares (npm run docs:config)", () => {
  const written = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
  assert.equal(written, configReference());
});
