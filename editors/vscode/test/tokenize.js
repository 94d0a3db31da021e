// Tokenizes files with the extension's TextMate grammar, as VS Code does (vscode-textmate on the
// Oniguruma regular expressions), and prints one JSON line per file: every token's line, columns,
// text and scopes. Used by tests/test_highlight.py.
"use strict";

const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const here = path.join(__dirname, "..");
const wasm = fs.readFileSync(path.join(path.dirname(require.resolve("vscode-oniguruma")), "onig.wasm")).buffer;

async function main(files) {
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== "source.arch") return null;
      const file = path.join(here, "syntaxes", "arch.tmLanguage.json");
      return vsctm.parseRawGrammar(fs.readFileSync(file, "utf8"), file);
    },
  });
  const grammar = await registry.loadGrammar("source.arch");
  for (const file of files) {
    const lines = fs.readFileSync(file, "utf8").split("\n");
    let state = vsctm.INITIAL;
    const tokens = [];
    lines.forEach((line, number) => {
      const result = grammar.tokenizeLine(line, state);
      for (const token of result.tokens) {
        tokens.push({ line: number, start: token.startIndex, end: token.endIndex,
                      text: line.substring(token.startIndex, token.endIndex), scopes: token.scopes });
      }
      state = result.ruleStack;
    });
    process.stdout.write(JSON.stringify({ file, tokens }) + "\n");
  }
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error);
  process.exit(1);
});
