/**
 * Dataset gallery webview: a virtualised grid. Only the rows on screen (plus one above and
 * below) exist in the DOM, in a pool of reused cells; metadata arrives in pages the webview asks
 * for, thumbnails as the host makes them (most visible first). Selection is a set of index ranges
 * (core/gallery/selection.ts), so "select all" of 100,000 images is one range.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import './style.css';
import type { GalleryItem, HostToWebview } from '../../src/core/protocol';
import { gridWindow, pagesFor, scrollTopFor, type GridWindow } from '../../src/core/gallery/virtualGrid';
import * as sel from '../../src/core/gallery/selection';
import { connect, getState, h, post, setState } from '../shared/api';

interface SavedState {
  root?: string;
  query?: string;
  zoom?: number;
  top?: number;
}

const PAGE = 120;
const GAP = 8;
const TEXT_HEIGHT = 48;
const saved: SavedState = getState<SavedState>() ?? {};

let generation = -1;
let root = '';
let total = 0;
let matched = 0;
let batchAvailable = false;
let items = new Map<number, GalleryItem>();
let requested = new Set<number>();
const thumbs = new Map<string, { thumb?: string; error?: string }>();
let selection: sel.RangeSet = [];
let anchor = -1;
let focusIndex = -1;
let zoom = clampZoom(saved.zoom ?? 160);
let win: GridWindow | undefined;
let pendingTop: number | undefined = saved.top;

function clampZoom(z: number): number {
  return Math.max(80, Math.min(320, Math.round(z)));
}

// ---- layout ------------------------------------------------------------------------------------
const app = document.getElementById('app') as HTMLElement;
const title = h('h1', { text: 'Gallery' });
const queryInput = h('input', {
  class: 'query',
  attrs: {
    type: 'text',
    placeholder: 'Filter: 1girl AND (smile OR grin) AND NOT hat · "long hair" · *_eyes · name:001 · text:red',
    'aria-label': 'Filter by tag expression',
    spellcheck: 'false',
  },
});
queryInput.value = saved.query ?? '';
const queryError = h('div', { class: 'query-error', attrs: { role: 'alert' } });
const counts = h('span', { class: 'counts', attrs: { 'aria-live': 'polite' } });
const zoomInput = h('input', { class: 'zoom', attrs: { type: 'range', min: '80', max: '320', step: '8', 'aria-label': 'Thumbnail size' } });
zoomInput.value = String(zoom);
const openBtn = h('vscode-button' as 'button', { text: 'Open in Tag Editor', attrs: { secondary: '', disabled: '' } });
const revealBtn = h('vscode-button' as 'button', { text: 'Reveal in Explorer', attrs: { secondary: '', disabled: '' } });
const batchBtn = h('vscode-button' as 'button', { text: 'Run Batch on Selection…', attrs: { secondary: '', hidden: '' } });
const header = h(
  'header',
  {},
  h('div', { class: 'row' }, title, counts),
  h('div', { class: 'row' }, queryInput, h('label', { class: 'zoom-label', text: 'Size' }, zoomInput), openBtn, revealBtn, batchBtn),
  queryError,
);
const spacer = h('div', { class: 'spacer' });
const layer = h('div', { class: 'layer' });
const scroller = h('div', { class: 'scroller', attrs: { tabindex: '0', role: 'grid', 'aria-label': 'Images', 'aria-multiselectable': 'true' } }, spacer, layer);
const empty = h('div', { class: 'empty muted' });
const loading = h('div', { class: 'loading' }, h('vscode-progress-ring' as 'div'), h('span', { text: 'Reading the dataset…' }));
app.append(header, loading, empty, scroller);
app.setAttribute('aria-busy', 'true');

// ---- cells -------------------------------------------------------------------------------------
interface Cell {
  el: HTMLElement;
  media: HTMLElement;
  img: HTMLImageElement;
  brokenTitle: HTMLElement;
  reason: HTMLElement;
  name: HTMLElement;
  tags: HTMLElement;
  index: number;
  key: string;
}
const pool: Cell[] = [];

function makeCell(): Cell {
  const media = h('div', { class: 'media' });
  const name = h('div', { class: 'name' });
  const tags = h('div', { class: 'tags' });
  const el = h('div', { class: 'cell', attrs: { role: 'gridcell' } }, media, name, tags);
  layer.append(el);
  const img = h('img', { attrs: { draggable: 'false', decoding: 'async' } });
  const brokenTitle = h('div', { class: 'broken-title', text: 'Cannot show this image' });
  const reason = h('div', { class: 'broken-reason' });
  const cell: Cell = { el, media, img, brokenTitle, reason, name, tags, index: -1, key: '' };
  return cell;
}

function fillMedia(cell: Cell, item: GalleryItem | undefined): void {
  const t = item ? thumbs.get(item.path) : undefined;
  const thumb = t?.thumb ?? item?.thumb;
  const error = t?.error ?? item?.error;
  const state = thumb ? 'img' : error ? 'broken' : 'pending';
  const key = `${state}|${thumb ?? error ?? ''}`;
  if (cell.media.dataset.key === key) return;
  cell.media.dataset.key = key;
  cell.media.className = state === 'img' ? 'media' : `media ${state}`;
  if (state === 'img') {
    // one <img> per cell, reused: only its source changes while scrolling
    if (cell.reason.isConnected) cell.reason.remove();
    if (cell.brokenTitle.isConnected) cell.brokenTitle.remove();
    cell.img.src = thumb as string;
    cell.img.alt = item?.name ?? '';
    if (!cell.img.isConnected) cell.media.append(cell.img);
    cell.media.removeAttribute('title');
  } else {
    if (cell.img.isConnected) cell.img.remove();
    cell.img.removeAttribute('src');
    if (state === 'broken') {
      cell.reason.textContent = error ?? '';
      cell.media.append(cell.brokenTitle, cell.reason);
      cell.media.title = error ?? '';
    } else {
      if (cell.reason.isConnected) cell.reason.remove();
      if (cell.brokenTitle.isConnected) cell.brokenTitle.remove();
      cell.media.removeAttribute('title');
    }
  }
}

function updateCell(cell: Cell, i: number, col: number, row: number, cw: number, ch: number): void {
  const item = items.get(i);
  if (cell.index !== i) {
    cell.index = i;
    cell.el.dataset.index = String(i);
  }
  cell.el.style.transform = `translate(${col * cw}px, ${row * ch}px)`;
  const key = item ? `${item.path}|${item.tags}|${item.width}x${item.height}` : '';
  if (cell.key !== key) {
    cell.key = key;
    cell.name.textContent = item ? item.name : '';
    cell.tags.textContent = item ? (item.tags || (item.hasCaption ? '(no tags)' : '(no tag file)')) : '';
    cell.el.title = item
      ? `${item.folder ? `${item.folder}/` : ''}${item.name}${item.width ? ` · ${item.width}×${item.height}` : ''} · ${item.tagCount} tags\n${item.tags}`
      : '';
    cell.tags.classList.toggle('none', !!item && !item.tags);
    // the tile's context menu (package.json webview/context): the commands get this object
    if (item) cell.el.dataset.vscodeContext = JSON.stringify({ webviewSection: 'galleryTile', lwbPath: item.path, preventDefaultContextMenuItems: true });
    else delete cell.el.dataset.vscodeContext;
  }
  fillMedia(cell, item);
  const selected = sel.has(selection, i);
  cell.el.classList.toggle('selected', selected);
  cell.el.setAttribute('aria-selected', String(selected));
  cell.el.classList.toggle('focused', i === focusIndex);
}

function sizes(): { cw: number; ch: number } {
  return { cw: zoom + GAP, ch: zoom + TEXT_HEIGHT + GAP };
}

function layout(): GridWindow {
  const { cw, ch } = sizes();
  return gridWindow({
    total: matched,
    width: scroller.clientWidth - 4,
    cellWidth: cw,
    cellHeight: ch,
    viewportHeight: scroller.clientHeight,
    scrollTop: scroller.scrollTop,
    overscanRows: 1,
  });
}

let frame = 0;
let appliedZoom = 0;
function schedule(): void {
  if (!frame) frame = requestAnimationFrame(render);
}

function render(): void {
  frame = 0;
  const { cw, ch } = sizes();
  if (appliedZoom !== zoom) {
    appliedZoom = zoom;
    document.documentElement.style.setProperty('--cell', `${zoom}px`);
  }
  win = layout();
  spacer.style.height = `${win.scrollHeight}px`;
  layer.style.transform = `translateY(${win.offsetY}px)`;
  const n = win.end - win.start;
  while (pool.length < n) pool.push(makeCell());
  for (let k = 0; k < pool.length; k++) {
    const cell = pool[k] as Cell;
    if (k >= n) {
      if (cell.el.style.display !== 'none') cell.el.style.display = 'none';
      cell.index = -1;
      continue;
    }
    if (cell.el.style.display === 'none') cell.el.style.display = '';
    const i = win.start + k;
    updateCell(cell, i, i % win.columns, Math.floor(i / win.columns) - win.firstRow, cw, ch);
  }
  requestPages(win.start, win.end);
  scheduleThumbs();
  saveState();
}

function requestPages(start: number, end: number): void {
  for (const p of pagesFor(start, end, PAGE)) {
    if (requested.has(p)) continue;
    requested.add(p);
    post({ type: 'gallery/range', generation, start: p * PAGE, end: Math.min(matched, (p + 1) * PAGE) });
  }
  // forget pages far away, so 100,000 items never pile up here
  if (items.size > PAGE * 40) {
    const keepFrom = start - PAGE * 10;
    const keepTo = end + PAGE * 10;
    for (const k of items.keys()) if (k < keepFrom || k > keepTo) items.delete(k);
    for (const p of [...requested]) if ((p + 1) * PAGE < keepFrom || p * PAGE > keepTo) requested.delete(p);
  }
}

let thumbTimer: ReturnType<typeof setTimeout> | undefined;
let lastVisible = '';
function scheduleThumbs(): void {
  clearTimeout(thumbTimer);
  thumbTimer = setTimeout(sendVisible, 60);
}

function sendVisible(): void {
  if (!win) return;
  // what is on screen first, then the overscan rows
  const { ch } = sizes();
  const firstVisibleRow = win.firstRow + Math.max(0, Math.floor((scroller.scrollTop - win.offsetY) / ch));
  const visStart = Math.max(win.start, firstVisibleRow * win.columns);
  const order: number[] = [];
  for (let i = visStart; i < win.end; i++) order.push(i);
  for (let i = win.start; i < visStart; i++) order.push(i);
  const paths: string[] = [];
  for (const i of order) {
    const it = items.get(i);
    if (!it || it.thumb || it.error) continue;
    const t = thumbs.get(it.path);
    if (t?.thumb || t?.error) continue;
    paths.push(it.path);
  }
  const key = paths.join('\n');
  if (key === lastVisible) return;
  lastVisible = key;
  post({ type: 'gallery/visible', paths });
}

// ---- state, counts, actions --------------------------------------------------------------------
let saveTimer: ReturnType<typeof setTimeout> | undefined;
/** Saves the view (for a reload) at most a few times a second, not on every scroll frame. */
function saveState(): void {
  if (saveTimer) return;
  saveTimer = setTimeout(() => {
    saveTimer = undefined;
    setState<SavedState>({ root, query: queryInput.value, zoom, top: win ? win.start + (win.firstRow > 0 ? win.columns : 0) : 0 });
  }, 300);
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

let countsKey = '';
function updateCounts(): void {
  const nSel = sel.count(selection);
  const one = targetIndex() >= 0;
  // called for every page that arrives: touch the DOM (and the buttons' components) only on change
  const key = `${total}|${matched}|${nSel}|${one}|${batchAvailable}|${generation}|${queryInput.value.trim() !== ''}`;
  if (key === countsKey) return;
  countsKey = key;
  const parts = [`${fmt(total)} image${total === 1 ? '' : 's'}`];
  if (queryInput.value.trim()) parts.push(`${fmt(matched)} match${matched === 1 ? '' : 'es'}`);
  parts.push(`${fmt(nSel)} selected`);
  counts.textContent = parts.join(' · ');
  counts.dataset.matched = String(matched);
  counts.dataset.selected = String(nSel);
  toggleAttr(openBtn, 'disabled', !one);
  toggleAttr(revealBtn, 'disabled', !one);
  toggleAttr(batchBtn, 'hidden', !batchAvailable);
  toggleAttr(batchBtn, 'disabled', nSel === 0);
  empty.textContent = matched === 0 && total > 0 ? 'No image matches this filter.' : total === 0 ? 'No images in this folder.' : '';
  empty.style.display = matched === 0 && generation >= 0 ? '' : 'none';
}

function toggleAttr(el: Element, name: string, on: boolean): void {
  if (on === el.hasAttribute(name)) return;
  if (on) el.setAttribute(name, '');
  else el.removeAttribute(name);
}

/** The image an action applies to: the focused one if selected, else the first selected. */
function targetIndex(): number {
  if (focusIndex >= 0 && sel.has(selection, focusIndex)) return focusIndex;
  const first = selection[0];
  return first ? first[0] : -1;
}

function setSelection(next: sel.RangeSet): void {
  selection = sel.clamp(next, matched);
  post({ type: 'gallery/select', generation, ranges: selection.map(([a, b]) => [a, b]) });
  updateCounts();
  schedule();
}

function pathAt(i: number): string | undefined {
  return items.get(i)?.path;
}

function openIndex(i: number): void {
  const p = pathAt(i);
  if (p) post({ type: 'gallery/open', path: p });
}

function scrollIntoView(i: number): void {
  if (!win) win = layout();
  const { cw, ch } = sizes();
  const base = { total: matched, width: scroller.clientWidth - 4, cellWidth: cw, cellHeight: ch, viewportHeight: scroller.clientHeight };
  const row = Math.floor(i / win.columns);
  const firstVisibleRow = win.firstRow + Math.floor((scroller.scrollTop - win.offsetY) / ch);
  const rowsOnScreen = Math.max(1, Math.floor(scroller.clientHeight / ch));
  if (row < firstVisibleRow) scroller.scrollTop = scrollTopFor(i, base);
  else if (row >= firstVisibleRow + rowsOnScreen) scroller.scrollTop = scrollTopFor(Math.max(0, i - (rowsOnScreen - 1) * win.columns), base);
}

function indexOfEvent(e: Event): number {
  const el = (e.target as HTMLElement).closest('.cell') as HTMLElement | null;
  return el?.dataset.index !== undefined ? Number(el.dataset.index) : -1;
}

layer.addEventListener('click', (e) => {
  const i = indexOfEvent(e);
  if (i < 0) return;
  scroller.focus();
  const additive = e.ctrlKey || e.metaKey;
  if (e.shiftKey && anchor >= 0) {
    const a = Math.min(anchor, i);
    const b = Math.max(anchor, i) + 1;
    setSelection(additive ? sel.add(selection, a, b) : [[a, b]]);
  } else if (additive) {
    setSelection(sel.toggle(selection, i));
    anchor = i;
  } else {
    setSelection([[i, i + 1]]);
    anchor = i;
  }
  focusIndex = i;
  updateCounts();
});
// a right-click on a tile outside the selection selects it first (the menu acts on that tile)
layer.addEventListener('contextmenu', (e) => {
  const i = indexOfEvent(e);
  if (i < 0 || sel.has(selection, i)) return;
  setSelection([[i, i + 1]]);
  anchor = i;
  focusIndex = i;
  updateCounts();
});
layer.addEventListener('dblclick', (e) => {
  const i = indexOfEvent(e);
  if (i >= 0) openIndex(i);
});

scroller.addEventListener('keydown', (e) => {
  const mod = e.ctrlKey || e.metaKey;
  if (mod && e.key.toLowerCase() === 'a') {
    e.preventDefault();
    setSelection(matched > 0 ? [[0, matched]] : []);
    return;
  }
  if (e.key === 'Escape') {
    setSelection([]);
    return;
  }
  if (e.key === 'Enter') {
    e.preventDefault();
    const i = focusIndex >= 0 ? focusIndex : targetIndex();
    if (i >= 0) openIndex(i);
    return;
  }
  const cols = win?.columns ?? 1;
  const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : e.key === 'ArrowDown' ? cols : e.key === 'ArrowUp' ? -cols : 0;
  if (step && matched > 0) {
    e.preventDefault();
    const next = Math.max(0, Math.min(matched - 1, (focusIndex < 0 ? 0 : focusIndex + step)));
    if (e.shiftKey && anchor >= 0) setSelection([[Math.min(anchor, next), Math.max(anchor, next) + 1]]);
    else {
      anchor = next;
      setSelection([[next, next + 1]]);
    }
    focusIndex = next;
    scrollIntoView(next);
    updateCounts();
  }
});

openBtn.addEventListener('click', () => {
  const i = targetIndex();
  if (i >= 0) openIndex(i);
});
revealBtn.addEventListener('click', () => {
  const p = pathAt(targetIndex());
  if (p) post({ type: 'gallery/reveal', path: p });
});
batchBtn.addEventListener('click', () => post({ type: 'gallery/batch' }));

scroller.addEventListener('scroll', schedule, { passive: true });
new ResizeObserver(schedule).observe(scroller);
zoomInput.addEventListener('input', () => {
  // keep the first visible image in place while the cells grow or shrink
  const first = win ? win.start + (win.firstRow > 0 ? win.columns : 0) : 0;
  zoom = clampZoom(Number(zoomInput.value));
  const { cw, ch } = sizes();
  scroller.scrollTop = scrollTopFor(first, { total: matched, width: scroller.clientWidth - 4, cellWidth: cw, cellHeight: ch, viewportHeight: scroller.clientHeight });
  schedule();
});

let queryTimer: ReturnType<typeof setTimeout> | undefined;
queryInput.addEventListener('input', () => {
  clearTimeout(queryTimer);
  queryTimer = setTimeout(() => post({ type: 'gallery/query', query: queryInput.value }), 200);
});
queryInput.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') {
    clearTimeout(queryTimer);
    post({ type: 'gallery/query', query: queryInput.value });
  }
});

function showQueryError(message: string, position: number): void {
  queryInput.setAttribute('aria-invalid', 'true');
  const q = queryInput.value;
  const at = Math.max(0, Math.min(position, q.length));
  queryError.replaceChildren(
    h('span', { class: 'error', text: message }),
    h('code', {}, h('span', { text: q.slice(0, at) }), h('mark', { text: q.slice(at, at + 1) || ' ' }), h('span', { text: q.slice(at + 1) })),
  );
}

// ---- messages ----------------------------------------------------------------------------------
connect((m: HostToWebview) => {
  switch (m.type) {
    case 'gallery/loading':
      title.textContent = `Gallery: ${m.title}`;
      loading.style.display = '';
      app.setAttribute('aria-busy', 'true');
      return;
    case 'gallery/reset': {
      const first = win?.start ?? 0;
      generation = m.generation;
      root = m.root;
      total = m.total;
      matched = m.matched;
      batchAvailable = m.batchAvailable;
      items = new Map();
      requested = new Set();
      lastVisible = '';
      selection = sel.normalise(m.selection);
      if (m.reason !== 'files') {
        anchor = -1;
        focusIndex = -1;
      } else if (focusIndex >= matched) focusIndex = -1;
      title.textContent = `Gallery: ${m.title}`;
      title.title = m.root;
      if (document.activeElement !== queryInput || m.reason === 'open') queryInput.value = m.query;
      queryInput.removeAttribute('aria-invalid');
      queryError.replaceChildren();
      loading.style.display = 'none';
      app.setAttribute('aria-busy', 'false');
      const { cw, ch } = sizes();
      const base = { total: matched, width: scroller.clientWidth - 4, cellWidth: cw, cellHeight: ch, viewportHeight: scroller.clientHeight };
      spacer.style.height = `${gridWindow({ ...base, scrollTop: 0 }).scrollHeight}px`;
      if (m.reason === 'filter') scroller.scrollTop = 0;
      else if (m.reason === 'open' && pendingTop !== undefined) {
        scroller.scrollTop = scrollTopFor(pendingTop, base);
        pendingTop = undefined;
      } else if (m.reason === 'files') scroller.scrollTop = scrollTopFor(first + (win && win.firstRow > 0 ? win.columns : 0), base);
      updateCounts();
      schedule();
      return;
    }
    case 'gallery/items': {
      if (m.generation !== generation) return;
      m.items.forEach((it, k) => {
        items.set(m.start + k, it);
        if (it.thumb || it.error) thumbs.set(it.path, { thumb: it.thumb, error: it.error });
        else thumbs.delete(it.path);
      });
      updateCounts();
      schedule();
      return;
    }
    case 'gallery/thumb':
      thumbs.set(m.path, { thumb: m.thumb, error: m.error });
      schedule();
      return;
    case 'gallery/queryError':
      showQueryError(m.message, m.position);
      return;
    case 'error':
      loading.style.display = 'none';
      app.setAttribute('aria-busy', 'false');
      queryError.replaceChildren(h('span', { class: 'error', text: m.message }));
      return;
    default:
      return;
  }
});
