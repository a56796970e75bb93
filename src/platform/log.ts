import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

/** The extension's one output channel ("LoRA Workbench", a log channel with levels). */
export function getLog(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel('LoRA Workbench', { log: true });
  return channel;
}

export function disposeLog(): void {
  channel?.dispose();
  channel = undefined;
}
