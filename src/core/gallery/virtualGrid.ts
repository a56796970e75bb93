/**
 * The gallery's virtual-window maths: which rows of a fixed-cell grid are on screen, which
 * metadata pages they need, and how a very tall grid is squeezed into the height a browser can
 * scroll (Chromium stops growing an element at about 16.7 million pixels; 100,000 large cells in
 * one column would need more). Pure, shared by the webview and the unit tests.
 */

/** Browsers cap element heights; stay well below Chromium's limit. */
export const MAX_SCROLL_HEIGHT = 8_000_000;

export interface GridLayoutInput {
  /** items in the grid */
  total: number;
  /** width available for cells, px */
  width: number;
  /** cell size including its gap, px */
  cellWidth: number;
  cellHeight: number;
  /** visible height, px */
  viewportHeight: number;
  /** the scroller's scrollTop, px (in the possibly squeezed scroll space) */
  scrollTop: number;
  /** extra rows above and below the visible ones */
  overscanRows?: number;
  maxScrollHeight?: number;
}

export interface GridWindow {
  columns: number;
  rows: number;
  /** the grid's true height */
  contentHeight: number;
  /** the height of the scroll spacer (contentHeight, or less when squeezed) */
  scrollHeight: number;
  /** first and last (exclusive) row to render */
  firstRow: number;
  endRow: number;
  /** first and last (exclusive) item index to render */
  start: number;
  end: number;
  /** translateY of the first rendered row, in scroll-space px */
  offsetY: number;
}

export function columnsFor(width: number, cellWidth: number): number {
  return Math.max(1, Math.floor(Math.max(0, width) / Math.max(1, cellWidth)));
}

export function gridWindow(i: GridLayoutInput): GridWindow {
  const columns = columnsFor(i.width, i.cellWidth);
  const total = Math.max(0, Math.floor(i.total));
  const rows = Math.ceil(total / columns);
  const cellH = Math.max(1, i.cellHeight);
  const contentHeight = rows * cellH;
  const maxH = i.maxScrollHeight ?? MAX_SCROLL_HEIGHT;
  const scrollHeight = Math.min(contentHeight, maxH);
  const viewport = Math.max(0, i.viewportHeight);
  // map the scroll position to the true content position: the last screen shows the last rows
  const maxScroll = Math.max(0, scrollHeight - viewport);
  const maxContent = Math.max(0, contentHeight - viewport);
  const scrollTop = Math.min(Math.max(0, i.scrollTop), maxScroll);
  const contentTop = maxScroll > 0 ? (scrollTop / maxScroll) * maxContent : 0;
  const overscan = Math.max(0, i.overscanRows ?? 1);
  const firstVisible = Math.floor(contentTop / cellH);
  const lastVisible = Math.ceil((contentTop + viewport) / cellH);
  const firstRow = Math.max(0, Math.min(rows, firstVisible - overscan));
  const endRow = Math.max(firstRow, Math.min(rows, lastVisible + overscan));
  // rows are placed relative to the scroll position, so squeezing never moves cells off screen
  const offsetY = scrollTop - (contentTop - firstRow * cellH);
  return {
    columns,
    rows,
    contentHeight,
    scrollHeight,
    firstRow,
    endRow,
    start: Math.min(total, firstRow * columns),
    end: Math.min(total, endRow * columns),
    offsetY,
  };
}

/** The scrollTop that shows item `index` at the top of the viewport (inverse of gridWindow's mapping). */
export function scrollTopFor(index: number, i: Omit<GridLayoutInput, 'scrollTop'>): number {
  const w = gridWindow({ ...i, scrollTop: 0 });
  const row = Math.floor(Math.max(0, index) / w.columns);
  const viewport = Math.max(0, i.viewportHeight);
  const maxScroll = Math.max(0, w.scrollHeight - viewport);
  const maxContent = Math.max(0, w.contentHeight - viewport);
  const contentTop = Math.min(row * Math.max(1, i.cellHeight), maxContent);
  return maxContent > 0 ? (contentTop / maxContent) * maxScroll : 0;
}

/** The page numbers (of `pageSize` items) that cover items [start, end). */
export function pagesFor(start: number, end: number, pageSize: number): number[] {
  if (end <= start) return [];
  const out: number[] = [];
  for (let p = Math.floor(start / pageSize); p * pageSize < end; p++) out.push(p);
  return out;
}
