// The VS Code client of archdsl's language server: starts `archdsl lsp` (or the command set in
// `archdsl.server.command`) for .arch files and talks to it over stdio.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("archdsl");
  const [command, ...args] = config.get("server.command", ["archdsl", "lsp"]);
  const errorsUrl = config.get("errorsUrl", "");
  const serverOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [{ scheme: "file", language: "arch" }, { scheme: "untitled", language: "arch" }],
    initializationOptions: errorsUrl ? { errorsUrl } : {},
  };
  client = new LanguageClient("archdsl", "archdsl language server", serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("archdsl")) {
        vscode.window.showInformationMessage("archdsl: reload the window to restart the language server with the new settings.");
      }
    })
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
