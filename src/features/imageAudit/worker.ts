import { fork } from 'node:child_process';
import type {
  AuditWorkerMessage,
  AuditWorkerProgress,
  AuditWorkerRequestMessage,
  AuditWorkerResult,
  TransformResult,
} from '../../core/dataset/imageAuditProtocol';

export interface WorkerCall {
  signal?: AbortSignal;
  onProgress?: (p: AuditWorkerProgress) => void;
}

/**
 * Sends one request to a fresh image-audit worker process and resolves with its result
 * (progress messages go to `onProgress`). Aborting kills the process. In desktop VS Code
 * `process.execPath` is Electron, so ELECTRON_RUN_AS_NODE makes it plain Node.
 */
export function callAuditWorker(script: string, request: AuditWorkerRequestMessage & { type: 'auditRequest' }, call?: WorkerCall): Promise<AuditWorkerResult>;
export function callAuditWorker(script: string, request: AuditWorkerRequestMessage & { type: 'transformRequest' }, call?: WorkerCall): Promise<TransformResult>;
export function callAuditWorker(script: string, request: AuditWorkerRequestMessage, call: WorkerCall = {}): Promise<AuditWorkerResult | TransformResult> {
  return new Promise((resolve, reject) => {
    const child = fork(script, [], {
      execPath: process.execPath,
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', UV_THREADPOOL_SIZE: '4' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    let settled = false;
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-4000);
    });
    const finish = (err: Error | undefined, value?: AuditWorkerResult | TransformResult): void => {
      if (settled) return;
      settled = true;
      call.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(value as AuditWorkerResult | TransformResult);
    };
    const onAbort = (): void => {
      child.kill('SIGKILL');
      finish(new Error('cancelled'));
    };
    if (call.signal?.aborted) return onAbort();
    call.signal?.addEventListener('abort', onAbort);
    child.on('message', (raw) => {
      const m = raw as AuditWorkerMessage;
      if (m.type === 'progress') call.onProgress?.(m);
      else if (m.type === 'error') finish(new Error(m.message));
      else finish(undefined, m);
    });
    child.on('error', (e) => finish(e));
    child.on('exit', (code, signal) => {
      finish(new Error(`the image worker exited (${signal ?? `code ${code}`}) without an answer${stderr ? `: ${stderr.trim()}` : ''}`));
    });
    child.send(request);
  });
}
