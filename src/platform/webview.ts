import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { HostToWebview, WebviewToHost } from '../core/protocol';
import { isWebviewToHost } from '../core/protocol';
import { Disposable } from './dispose';

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions & vscode.WebviewPanelOptions {
  return {
    enableScripts: true,
    // only our own bundles; datasets are added per panel where a panel shows images
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')],
  };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The HTML shell of every webview: a strict CSP (nothing remote, scripts only with this page's
 * nonce), one script and one style sheet from dist/webview/<entry>.js|.css.
 */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, entry: string, title: string): string {
  const nonce = randomBytes(18).toString('base64');
  const base = vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(base, `${entry}.js`));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(base, `${entry}.css`));
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data: blob:`,
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>${escapeHtml(title)}</title>
</head>
<body>
<main id="app" aria-busy="true"></main>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}

/**
 * Typed messaging with one webview. Messages posted before the webview said `ready` are queued
 * and sent in order once it has (a hidden or still-loading webview would drop them).
 */
export class WebviewChannel extends Disposable {
  private ready = false;
  private queue: HostToWebview[] = [];
  private readonly received = this.register(new vscode.EventEmitter<WebviewToHost>());
  readonly onMessage = this.received.event;

  constructor(private readonly webview: vscode.Webview) {
    super();
    this.register(
      webview.onDidReceiveMessage((m: unknown) => {
        if (!isWebviewToHost(m)) return;
        if (m.type === 'ready') {
          this.ready = true;
          const queued = this.queue;
          this.queue = [];
          for (const q of queued) void this.webview.postMessage(q);
        }
        this.received.fire(m);
      }),
    );
  }

  post(message: HostToWebview): void {
    if (this.ready) void this.webview.postMessage(message);
    else this.queue.push(message);
  }
}
