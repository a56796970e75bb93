/**
 * The pseudoterminal of a training task (and of the sd-scripts dataset tasks, which share it
 * without the training-output parser): spawns the process from its argument array (no shell)
 * in its own process group, streams its output unchanged to the terminal, feeds the output
 * parser, and stops the whole group (SIGINT first, SIGKILL after a timeout).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as vscode from 'vscode';
import { formatCommandLine, TrainingOutputParser, type OutputEvent, type OutputState, type SpawnSpec, type TrainingTaskDefinition } from '../../core/training';
import { getLog } from '../../platform/log';

/**
 * pause between the end of the process and the end of the task (see the close handler); 750 ms
 * was once too short on a loaded machine, and a task that ends 1.5 s later costs nothing
 */
const CLOSE_DELAY_MS = 1500;

export interface RunInfo {
  readonly name: string;
  readonly pid: number | undefined;
  readonly state: OutputState;
  exitCode: number | undefined;
  /** true when the user (or terminate()) stopped it */
  stopped: boolean;
  readonly startedAt: number;
  /** the training config (absolute path) and task definition, for the run panel */
  readonly config?: string;
  readonly definition?: TrainingTaskDefinition;
  /** the workspace folder of the task */
  readonly folder?: string;
}

export interface RunHooks {
  /** called with every parser event batch (training output only) */
  onEvents?(run: RunInfo, events: OutputEvent[]): void;
  onStart(run: RunInfo): void;
  onEnd(run: RunInfo): void;
}

/** true while any process of the group exists */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    if (process.platform === 'win32') process.kill(pid, sig);
    else process.kill(-pid, sig);
  } catch {
    /* already gone */
  }
}

export class TrainingPty implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | void>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private child: ChildProcess | undefined;
  /** reads training output (progress, failures); undefined for other scripts */
  private readonly parser: TrainingOutputParser | undefined;
  /** how runs are named in the log ("Training", "Task") */
  private readonly kind: string;
  private run: RunInfo | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  /** onDidClose was fired */
  private closed = false;
  /** closed before the process started */
  private cancelled = false;

  constructor(
    private readonly name: string,
    private readonly spec: SpawnSpec,
    private readonly stopTimeoutMs: number,
    private readonly hooks: RunHooks,
    /** run before spawning; false (or a message) ends the task without starting anything */
    private readonly before: () => Promise<true | string>,
    private readonly meta: Pick<RunInfo, 'config' | 'definition' | 'folder'> = {},
    options: { parseTrainingOutput?: boolean; kind?: string } = {},
  ) {
    this.parser = options.parseTrainingOutput === false ? undefined : new TrainingOutputParser();
    this.kind = options.kind ?? 'Training';
  }

  private write(text: string): void {
    // the terminal needs \r\n; a lone \r (tqdm's redraw) stays as it is
    this.writeEmitter.fire(text.replace(/\r?\n/g, '\r\n'));
  }

  open(): void {
    void this.start();
  }

  private async start(): Promise<void> {
    let go: true | string;
    try {
      go = await this.before();
    } catch (e) {
      go = (e as Error).message;
    }
    if (go !== true) {
      this.write(`\x1b[33m${go}\x1b[0m\n`);
      this.closed = true;
      this.closeEmitter.fire(1);
      return;
    }
    if (this.cancelled) {
      this.closed = true;
      this.closeEmitter.fire(130);
      return;
    }
    this.write(`\x1b[2m> ${formatCommandLine(this.spec)}\n  (in ${this.spec.cwd})\x1b[0m\n`);
    let child: ChildProcess;
    try {
      child = spawn(this.spec.command, this.spec.args, {
        cwd: this.spec.cwd,
        env: this.spec.env,
        shell: false,
        // its own process group: accelerate, the script and its data-loader workers stop together
        detached: process.platform !== 'win32',
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (e) {
      this.fail(`Could not start ${this.spec.command}: ${(e as Error).message}`);
      return;
    }
    this.child = child;
    const run: RunInfo = { name: this.name, pid: child.pid, state: this.parser?.state ?? new TrainingOutputParser().state, exitCode: undefined, stopped: false, startedAt: Date.now(), ...this.meta };
    this.run = run;
    getLog().info(`${this.kind} "${this.name}" started (pid ${child.pid ?? '?'}): ${formatCommandLine(this.spec)}`);
    this.hooks.onStart(run);
    const onData = (d: Buffer): void => {
      this.write(d.toString('utf8'));
      if (!this.parser) return;
      const events = this.parser.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      if (events.length) this.hooks.onEvents?.(run, events);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('error', (e) => {
      this.fail(`Could not start ${this.spec.command}: ${e.message}`);
    });
    child.on('close', (code, signal) => {
      const tail = this.parser?.end() ?? [];
      if (tail.length) this.hooks.onEvents?.(run, tail);
      run.exitCode = code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGKILL' ? 137 : signal === 'SIGTERM' ? 143 : 1);
      this.write(`\n\x1b[2mProcess exited with ${signal ? `signal ${signal}` : `code ${code}`}.\x1b[0m\n`);
      getLog().info(`${this.kind} "${this.name}" ended: ${signal ?? code}`);
      // children of the trainer may outlive it: end the rest of the group
      if (child.pid !== undefined && groupAlive(child.pid)) {
        if (run.stopped) this.scheduleKill(child.pid, this.stopTimeoutMs);
        else signalGroup(child.pid, 'SIGTERM');
      }
      this.hooks.onEnd(run);
      if (!this.closed) {
        this.closed = true;
        // VS Code stops feeding a task's problem matchers when its pseudoterminal closes, and the
        // terminal hands over its last lines only after it has rendered them
        // (microsoft/vscode#92868): close a moment later so tracebacks reach $lwb-python
        const code = run.exitCode;
        setTimeout(() => this.closeEmitter.fire(code), CLOSE_DELAY_MS);
      }
    });
  }

  private fail(message: string): void {
    if (this.closed) return;
    this.write(`\x1b[31m${message}\x1b[0m\n`);
    getLog().error(`${this.kind} "${this.name}": ${message}`);
    if (!this.run) {
      this.closed = true;
      this.closeEmitter.fire(127);
    }
  }

  handleInput(data: string): void {
    if (data === '\x03') this.stop();
  }

  /** SIGINT to the group now, SIGKILL to what is left after the timeout. */
  stop(): void {
    const pid = this.child?.pid;
    if (pid === undefined || !this.run || this.run.exitCode !== undefined) return;
    if (this.run.stopped) return;
    this.run.stopped = true;
    this.write('\n\x1b[33mStopping (SIGINT)…\x1b[0m\n');
    signalGroup(pid, 'SIGINT');
    this.scheduleKill(pid, this.stopTimeoutMs);
  }

  private scheduleKill(pid: number, ms: number): void {
    if (this.killTimer) return;
    const started = Date.now();
    const tick = (): void => {
      if (!groupAlive(pid)) {
        this.killTimer = undefined;
        return;
      }
      if (Date.now() - started >= ms) {
        getLog().warn(`${this.kind} "${this.name}" did not stop within ${ms} ms: SIGKILL to its process group`);
        signalGroup(pid, 'SIGKILL');
        this.killTimer = undefined;
        return;
      }
      this.killTimer = setTimeout(tick, 100);
    };
    this.killTimer = setTimeout(tick, 100);
  }

  close(): void {
    // the terminal was closed or the task terminated: stop the run; its exit ends the task
    if (!this.child) this.cancelled = true;
    this.stop();
  }
}
