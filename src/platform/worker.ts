import { fork } from 'node:child_process';
import type { WorkerReply } from '../core/workers/protocol';

/**
 * Runs a bundled worker script in its own Node process and resolves with its one reply.
 * In desktop VS Code `process.execPath` is Electron, so ELECTRON_RUN_AS_NODE makes it plain Node.
 */
export function runWorkerOnce(script: string, timeoutMs = 60_000): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const child = fork(script, [], {
      execPath: process.execPath,
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    let settled = false;
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-4000);
    });
    const timer = setTimeout(() => {
      finish(new Error(`worker ${script} did not answer within ${timeoutMs} ms`));
      child.kill('SIGKILL');
    }, timeoutMs);
    const finish = (err: Error | undefined, value?: WorkerReply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value as WorkerReply);
    };
    child.on('message', (m) => finish(undefined, m as WorkerReply));
    child.on('error', (e) => finish(e));
    child.on('exit', (code, signal) => {
      finish(new Error(`worker exited (${signal ?? `code ${code}`}) without an answer${stderr ? `: ${stderr.trim()}` : ''}`));
    });
  });
}
