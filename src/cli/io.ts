import { parseArgs } from 'node:util';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const EXIT = {
  ok: 0,
  problem: 1,
  usage: 2,
  input: 3,
  internal: 70,
} as const;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type OptionConfig = {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  default?: string | boolean | string[] | boolean[];
};

const HELP_OPTION = { help: { type: 'boolean', short: 'h', default: false } } as const;

/**
 * Every command's argument parsing: node's parseArgs with positionals and `-h/--help` added; a
 * parse error (unknown option, missing value) becomes a UsageError (exit 2).
 */
export function parseCommandArgs<const O extends Record<string, OptionConfig>>(args: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...args], allowPositionals: true, strict: true, options: { ...options, ...HELP_OPTION } });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
