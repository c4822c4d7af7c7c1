// Builds the publish preview into one self-contained HTML file: src/index.html with src/style.css and the bundled
// script inlined (the host's sandbox may fetch nothing, and the default CSP allows inline script and style only).
//
//   node build.mjs [OUTPUT]      default OUTPUT: ../../gateway/protocol/views/publish_preview.html
//
// Deterministic, so a test can rebuild from the pinned packages and compare bytes with the committed file: no
// timestamps, no absolute paths (esbuild names sources relative to this folder), unminified so the committed file
// reads in review, type-checked first so a build never ships what tsc rejects.

import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const output = resolve(process.argv[2] ?? join(here, "../../gateway/protocol/views/publish_preview.html"));

execFileSync(process.execPath, [join(here, "node_modules/typescript/bin/tsc"), "-p", here], { stdio: "inherit" });

const bundled = await build({
  absWorkingDir: here,
  entryPoints: ["src/main.ts"],
  bundle: true,
  write: false,
  format: "iife",
  platform: "browser",
  target: "es2022",
  charset: "utf8",
  legalComments: "none",
  logLevel: "warning",
});
const script = bundled.outputFiles[0].text;
const style = readFileSync(join(here, "src/style.css"), "utf8");
const page = readFileSync(join(here, "src/index.html"), "utf8");

// Inside an inline <script> or <style>, "</script" or "</style" would end the element early and "<!--" changes how
// the HTML parser reads the rest: refuse to build rather than ship a page that parses differently than it reads.
for (const [name, text, closer] of [["script", script, /<\/script|<!--/i], ["style", style, /<\/style|<!--/i]]) {
  if (closer.test(text)) throw new Error(`the inlined ${name} contains ${text.match(closer)[0]}`);
}

const marker = (name) => `/*${name}*/`;
for (const name of ["STYLE", "SCRIPT"]) {
  if (page.split(marker(name)).length !== 2) throw new Error(`src/index.html must hold ${marker(name)} exactly once`);
}
const banner =
  "<!-- Built by views/publish-preview/build.mjs from views/publish-preview/src: edit the source, then `make view`. -->\n";
// Functions as replacements: a "$" in the script is text, not a replacement pattern.
const html = page
  .replace("<!doctype html>\n", () => `<!doctype html>\n${banner}`)
  .replace(marker("STYLE"), () => style.trimEnd())
  .replace(marker("SCRIPT"), () => script.trimEnd());

mkdirSync(dirname(output), { recursive: true });
writeFileSync(output, html);
console.log(`built ${output} (${Buffer.byteLength(html)} bytes)`);
