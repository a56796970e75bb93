import * as path from 'node:path';
import { existsSync, readdirSync, statSync } from 'node:fs';
import type { ConfigFileSystem } from './types';

/** The real file system (synchronous; used by the CLI and the extension host). Never throws. */
export const nodeFileSystem: ConfigFileSystem = {
  exists(p) {
    try {
      return existsSync(p);
    } catch {
      return false;
    }
  },
  isDirectory(p) {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  },
  list(dir) {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  },
};

const PLACEHOLDER = [
  /本地路径|路径|パス|경로/,
  /(^|[\\/])path[\\/]to([\\/]|$)/i,
  /<[^<>]+>/,
  /\byour[_ -]?(own[_ -]?)?(path|model|dataset|data|folder|dir|directory|file|output|name)\b/i,
  /(^|[\\/_-])x{3,}([\\/_.-]|$)/i,
  /\bCHANGE[_ -]?ME\b|\bTODO\b|\bFIXME\b|\bREPLACE[_ -]?ME\b/i,
  /(\.\.\.|…)/,
];

/** True when a path is obviously a placeholder from a template or article ("/path/to/…", "本地路径"). */
export function isPlaceholderPath(p: string): boolean {
  if (p.trim() === '') return true;
  const withoutParents = p.replace(/(^|[\\/])\.\.(?=[\\/]|$)/g, '$1');
  return PLACEHOLDER.some((re) => re.test(withoutParents));
}

/** Windows absolute paths are resolved as themselves on every platform. */
export function resolveConfigPath(baseDir: string, p: string): string {
  if (/^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\')) return p;
  return path.resolve(baseDir, p.replace(/^~(?=$|[\\/])/, process.env.HOME ?? '~'));
}

export function isAbsoluteConfigPath(p: string): boolean {
  return path.isAbsolute(p) || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('~');
}

/** A Hugging Face model id such as "stabilityai/stable-diffusion-xl-base-1.0". */
export function looksLikeHubId(p: string): boolean {
  return /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(p) && !/\.(safetensors|ckpt|pt|bin)$/i.test(p);
}
