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
