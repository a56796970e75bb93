/**
 * Multi-select in the Datasets tree: when several rows are selected and the user runs a context
 * menu command on one of them, VS Code passes (clicked node, selected nodes); with one row it
 * passes only the node. Commands that work on several nodes use `selectedTargets`; commands that
 * take other arguments in the second place (a name, a number, options) use `notSelection` so a
 * selection array is never mistaken for one.
 */

/** The nodes a command works on: the selection when VS Code passed one, else the clicked node. */
export function selectedTargets<T>(clicked: T | undefined | null, second: unknown): T[] {
  if (Array.isArray(second) && second.length > 0) return second as T[];
  return clicked === undefined || clicked === null ? [] : [clicked];
}

/** The second argument, unless it is the tree's selection (then undefined). */
export function notSelection<T>(second: T | unknown[] | undefined): T | undefined {
  return Array.isArray(second) ? undefined : (second as T | undefined);
}
