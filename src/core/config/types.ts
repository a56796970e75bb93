/** Plain data shared by the config checks, completion and hover. No VS Code types. */

/** 0-based line and UTF-16 character, like VS Code's Position. */
export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

/** [start, end) offsets into the text (UTF-16 code units). */
export type OffsetRange = readonly [number, number];

export type Severity = 'error' | 'warning' | 'info' | 'hint';

export interface TextEdit {
  range: Range;
  offsets: OffsetRange;
  newText: string;
}

export interface Fix {
  title: string;
  edits: TextEdit[];
  /** the preferred fix of a diagnostic (VS Code: isPreferred) */
  preferred?: boolean;
}

export interface ConfigDiagnostic {
  range: Range;
  offsets: OffsetRange;
  /** stable identifier, e.g. 'unknown-key' (see DIAGNOSTIC_CODES) */
  code: string;
  severity: Severity;
  message: string;
  fixes?: Fix[];
  /** set when the diagnostic is about another file than the one checked (e.g. the dataset config) */
  file?: string;
}

/** What kind of kohya file a text is. */
export type ConfigKind = 'training' | 'dataset' | 'samplePrompts';

/** The file-system access the checks need; injected so tests can use a fake one. */
export interface ConfigFileSystem {
  exists(path: string): boolean;
  isDirectory(path: string): boolean;
  /** names of the entries of a folder; [] when it cannot be read */
  list(dir: string): string[];
}
