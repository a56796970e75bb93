import * as vscode from 'vscode';
import { Commands } from '../constants';
import type { NativeProbeResult } from '../core/workers/protocol';
import { getLog } from '../platform/log';
import { runWorkerOnce } from '../platform/worker';

/** Runs the native-module probe in a worker process (sharp and onnxruntime never load in the host). */
export async function probeNativeModules(extensionUri: vscode.Uri): Promise<NativeProbeResult> {
  const script = vscode.Uri.joinPath(extensionUri, 'dist', 'workers', 'nativeProbe.js').fsPath;
  const reply = await runWorkerOnce(script);
  if (reply.type !== 'nativeProbe') throw new Error(reply.type === 'error' ? reply.message : 'unexpected reply');
  return reply;
}

export function describeProbe(r: NativeProbeResult): { ok: boolean; text: string } {
  const sharp = r.sharp.ok ? `sharp ${r.sharp.version} (libvips ${r.sharp.libvips})` : `sharp failed: ${r.sharp.error}`;
  const ort = r.onnxruntime.ok
    ? `onnxruntime ${r.onnxruntime.version} (${r.onnxruntime.backends.join(', ') || 'no backends'})`
    : `onnxruntime failed: ${r.onnxruntime.error}`;
  return { ok: r.sharp.ok && r.onnxruntime.ok, text: `${sharp}; ${ort} on ${r.platform}, Node ${r.node}` };
}

export function registerNativeStatus(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(Commands.checkNativeModules, async () => {
      try {
        const result = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: 'Checking image and ONNX runtimes…' },
          () => probeNativeModules(context.extensionUri),
        );
        const { ok, text } = describeProbe(result);
        getLog().info(`Native modules: ${text}`);
        if (ok) void vscode.window.showInformationMessage(`LoRA Workbench: ${text}`);
        else void vscode.window.showErrorMessage(`LoRA Workbench: ${text}. Reinstall the extension for ${result.platform}.`);
        return result;
      } catch (e) {
        const msg = (e as Error).message;
        getLog().error(`Native module check failed: ${msg}`);
        void vscode.window.showErrorMessage(`LoRA Workbench: the runtime check failed: ${msg}`);
        return undefined;
      }
    }),
  );
}
