/**
 * A long-lived worker process with a message stream both ways (the streaming sibling of
 * src/platform/worker.ts's one-shot runner). No `vscode` import, so the CLI uses it too.
 * In desktop VS Code `process.execPath` is Electron: ELECTRON_RUN_AS_NODE makes it plain Node.
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface WorkerSession<Out> {
  send(msg: unknown): boolean;
  /** Kills the process (SIGKILL); the `exited` promise then resolves. */
  kill(): void;
  /** Resolves when the process has exited, with its exit description and the tail of its stderr. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** Never used directly by callers; exposed for tests. */
  readonly child: ChildProcess;
  /** Type marker for the messages `onMessage` receives. */
  readonly _out?: Out;
}

export function startWorkerSession<Out>(script: string, onMessage: (msg: Out) => void, env: NodeJS.ProcessEnv = {}): WorkerSession<Out> {
  const child = fork(script, [], {
    execPath: process.execPath,
    env: { ...process.env, ...env, ELECTRON_RUN_AS_NODE: '1' },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-4000);
  });
  child.on('message', (m) => onMessage(m as Out));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (done) return;
      done = true;
      resolve({ code, signal, stderr: stderr.trim() });
    };
    child.on('exit', finish);
    child.on('error', (e) => {
      stderr += `\n${e.message}`;
      finish(null, null);
    });
  });
  return {
    child,
    send: (msg) => {
      if (!child.connected) return false;
      try {
        return child.send(msg as never);
      } catch {
        return false;
      }
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    exited,
  };
}
