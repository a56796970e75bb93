/**
 * The problem matchers contributed in package.json (`$lwb-python`, `$lwb-sd-scripts`), kept here
 * so the unit tests check the very regexes VS Code uses (a test compares them with package.json)
 * against real sd-scripts output.
 *
 * Pure: no `vscode`, no file access.
 */

/** One line pattern of a VS Code problem matcher (the subset we use). */
export interface MatcherPattern {
  regexp: string;
  kind?: 'location' | 'file';
  file?: number;
  line?: number;
  severity?: number;
  code?: number;
  message?: number;
}

export interface ProblemMatcherContribution {
  name: string;
  label: string;
  owner: string;
  source: string;
  applyTo: 'allDocuments';
  fileLocation: string[];
  severity?: 'error' | 'warning' | 'info';
  pattern: MatcherPattern[];
}

/**
 * `$lwb-python`: the innermost frame of a Python traceback and the exception under it:
 *
 *     File "/sd-scripts/library/train_util.py", line 4012, in read_config_from_file
 *       config = toml.load(f)
 *   toml.decoder.TomlDecodeError: Key name found without value. (line 3 column 1 char 40)
 *
 * Three consecutive lines: only the last frame is followed by the exception line, so every
 * traceback gives exactly one problem, at the place that raised.
 */
export const PYTHON_FRAME = String.raw`^\s*File "(.+)", line (\d+)(?:, in .*)?$`;
export const PYTHON_SOURCE_LINE = String.raw`^\s{2,}\S.*$`;
export const PYTHON_EXCEPTION = String.raw`^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Invalid|Warning)): (.+)$`;

/**
 * `$lwb-sd-scripts`: an ERROR/WARNING/CRITICAL line of sd-scripts' log (rich's layout: optional
 * time column, level, message, the logging `file.py:line` on the right; or plain
 * `--console_log_simple` lines) whose message ends with the config or prompt file it is about, e.g.
 *
 *   2026-02-16 12:00:01 ERROR    Error on parsing TOML config file. Please check the format. / …: /work/dataset.toml   config_util.py:621
 *
 * The problem is put on that file (kind "file": sd-scripts gives no line).
 */
export const SD_SCRIPTS_FILE_ERROR = String.raw`^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+|\s+)?(ERROR|WARNING|CRITICAL)\s+(.*(?::\s+|：\s*)'?((?:[A-Za-z]:[\\/])?[^:'"*?<>|\s][^:'"*?<>|]*?\.(?:toml|json|txt|yaml|yml))'?\.?)(?:\s{2,}[\w.-]+\.py:\d+)?\s*$`;

export const PROBLEM_MATCHERS: readonly ProblemMatcherContribution[] = [
  {
    name: 'lwb-python',
    label: 'LoRA Workbench: Python traceback',
    owner: 'lora-workbench-python',
    source: 'python',
    applyTo: 'allDocuments',
    fileLocation: ['autoDetect', '${workspaceFolder}'],
    severity: 'error',
    pattern: [
      { regexp: PYTHON_FRAME, file: 1, line: 2 },
      { regexp: PYTHON_SOURCE_LINE },
      { regexp: PYTHON_EXCEPTION, code: 1, message: 2 },
    ],
  },
  {
    name: 'lwb-sd-scripts',
    label: 'LoRA Workbench: sd-scripts config errors',
    owner: 'lora-workbench-sd-scripts',
    source: 'sd-scripts',
    applyTo: 'allDocuments',
    fileLocation: ['autoDetect', '${workspaceFolder}'],
    pattern: [{ regexp: SD_SCRIPTS_FILE_ERROR, kind: 'file', severity: 1, message: 2, file: 3 }],
  },
];

/** The names to put in a task's problemMatchers (with the `$`). */
export const TRAINING_PROBLEM_MATCHERS = PROBLEM_MATCHERS.map((m) => `$${m.name}`);

export interface MatchedProblem {
  matcher: string;
  file: string;
  line?: number;
  severity: 'error' | 'warning' | 'info';
  code?: string;
  message: string;
}

function severityOf(s: string | undefined, fallback: 'error' | 'warning' | 'info'): 'error' | 'warning' | 'info' {
  const l = (s ?? '').toLowerCase();
  if (l === 'error' || l === 'critical') return 'error';
  if (l === 'warning' || l === 'warn') return 'warning';
  if (l === 'info') return 'info';
  return fallback;
}

/**
 * Runs the matchers over a log the way VS Code's line matcher does (a multi-line pattern matches
 * consecutive lines; a match consumes its lines). For tests and for `lwb`-style use. tqdm's
 * `\r` redraws count as line breaks, as in the terminal.
 */
export function matchProblems(text: string, matchers: readonly ProblemMatcherContribution[] = PROBLEM_MATCHERS): MatchedProblem[] {
  const lines = String(text ?? '').split(/\r\n|\r|\n/);
  const compiled = matchers.map((m) => ({ m, res: m.pattern.map((p) => new RegExp(p.regexp)) }));
  const out: MatchedProblem[] = [];
  for (const { m, res } of compiled) {
    for (let i = 0; i < lines.length; i++) {
      const groups: RegExpExecArray[] = [];
      let ok = true;
      for (let k = 0; k < res.length; k++) {
        const line = lines[i + k];
        const g = line === undefined ? null : (res[k] as RegExp).exec(line);
        if (!g) {
          ok = false;
          break;
        }
        groups.push(g);
      }
      if (!ok) continue;
      const r: Partial<MatchedProblem> & { matcher: string } = { matcher: m.name };
      m.pattern.forEach((p, k) => {
        const g = groups[k] as RegExpExecArray;
        if (p.file) r.file = g[p.file];
        if (p.line) r.line = Number(g[p.line]);
        if (p.message) r.message = g[p.message];
        if (p.code) r.code = g[p.code];
        if (p.severity) r.severity = severityOf(g[p.severity], m.severity ?? 'error');
      });
      if (r.file && r.message) out.push({ ...r, severity: r.severity ?? m.severity ?? 'error' } as MatchedProblem);
      i += res.length - 1;
    }
  }
  return out;
}
