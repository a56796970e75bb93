/**
 * Multi-select in the Datasets tree: when several rows are selected and the user runs a context
 * menu command on one of them, VS Code passes (clicked node, selected nodes); with one row it
 * passes only the node. Commands that work on several nodes use `selectedTargets`; commands that
 * take other arguments in the second place (a name, a number, options) use `notSelection` so a
 * selection array is never mistaken for one.
 */

/** The nodes a command works on: the selection when VS Code passed one, else the clicked node. */
export function selectedTargets<T>(clicked: T | undefined | null, second: unknown): T[] {
  const none = clicked === undefined || clicked === null;
  if (Array.isArray(second) && second.length > 0) {
    // a selection that does not hold the clicked row (it was re-rendered, or the selection is left
    // over from before): act on the row the user clicked, as the Explorer does
    if (none || selectionHolds(second, clicked)) return second as T[];
  }
  return none ? [] : [clicked];
}

/** Whether a selection holds the clicked row: the same object, tree node id, or URI. */
export function selectionHolds(selection: readonly unknown[], clicked: unknown): boolean {
  const key = (n: unknown): unknown => {
    if (!n || typeof n !== 'object') return n;
    if ('id' in n && (n as { id: unknown }).id !== undefined) return `id:${String((n as { id: unknown }).id)}`;
    if ('scheme' in n && 'fsPath' in n) return `uri:${String(n)}`;
    return n;
  };
  const k = key(clicked);
  return selection.some((n) => n === clicked || key(n) === k);
}

/** The second argument, unless it is the tree's selection (then undefined). */
export function notSelection<T>(second: T | unknown[] | undefined): T | undefined {
  return Array.isArray(second) ? undefined : (second as T | undefined);
}
