/**
 * A selection over a list of up to hundreds of thousands of items, kept as sorted, disjoint,
 * non-adjacent half-open ranges [start, end): "select all" of 100,000 images is one range.
 * Immutable operations; pure, shared by the webview and the host.
 */
export type Range = readonly [number, number];
export type RangeSet = readonly Range[];

/** Sorts and merges overlapping or touching ranges; drops empty ones. */
export function normalise(ranges: Iterable<Range>): RangeSet {
  const list = [...ranges].filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of list) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

export function count(set: RangeSet): number {
  let n = 0;
  for (const [a, b] of set) n += b - a;
  return n;
}

export function has(set: RangeSet, i: number): boolean {
  let lo = 0;
  let hi = set.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = set[mid] as Range;
    if (i < a) hi = mid;
    else if (i >= b) lo = mid + 1;
    else return true;
  }
  return false;
}

export function add(set: RangeSet, start: number, end: number): RangeSet {
  return normalise([...set, [start, end]]);
}

export function remove(set: RangeSet, start: number, end: number): RangeSet {
  const out: Array<[number, number]> = [];
  for (const [a, b] of set) {
    if (b <= start || a >= end) out.push([a, b]);
    else {
      if (a < start) out.push([a, start]);
      if (b > end) out.push([end, b]);
    }
  }
  return out;
}

export function toggle(set: RangeSet, i: number): RangeSet {
  return has(set, i) ? remove(set, i, i + 1) : add(set, i, i + 1);
}

/** Every selected index, in order (stops after `limit`). */
export function indices(set: RangeSet, limit = Infinity): number[] {
  const out: number[] = [];
  for (const [a, b] of set) {
    for (let i = a; i < b; i++) {
      if (out.length >= limit) return out;
      out.push(i);
    }
  }
  return out;
}

/** Keeps only indices below `total` (the list shrank). */
export function clamp(set: RangeSet, total: number): RangeSet {
  return remove(set, total, Number.MAX_SAFE_INTEGER);
}

/** Ranges from a sorted or unsorted list of indices. */
export function fromIndices(list: Iterable<number>): RangeSet {
  const sorted = [...list].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i <= last[1]) last[1] = Math.max(last[1], i + 1);
    else out.push([i, i + 1]);
  }
  return out;
}

/** Is a value a well-formed RangeSet (from a message)? */
export function isRangeSet(v: unknown): v is RangeSet {
  return (
    Array.isArray(v) &&
    v.every((r) => Array.isArray(r) && r.length === 2 && Number.isInteger(r[0]) && Number.isInteger(r[1]) && (r[0] as number) >= 0 && (r[1] as number) >= (r[0] as number))
  );
}
