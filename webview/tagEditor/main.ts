/**
 * Tag editor webview: the image, the tags as chips (drag or Alt+←/→ to reorder, × or Delete to
 * remove, double-click / F2 / Enter to edit in place, type to add with autocomplete), the problems
 * with their fixes, the editable raw text, the other sidecar and WD14 suggestions. It holds no document state: every change is a message to the
 * host, which edits the TextDocument and sends the new state back.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import './style.css';
import type { HostToWebview, TagEditorCompletion, TagEditorState, TagSuggestion } from '../../src/core/protocol';
import { mapOffsetThroughChange, type TagEditOp } from '../../src/core/captions/tagEditorTypes';
import { connect, getState, h, post, setState } from '../shared/api';

interface ViewState {
  draft: string;
  focus: number | null;
}

const saved = getState<ViewState>();
let state: TagEditorState | undefined;
let vocabulary: Array<{ name: string; count: number; key: string }> = [];
let vocabularyTotal = 0;
let suggestions: { status: string; tags?: TagSuggestion[]; message?: string } | undefined;
/** the chip to focus after the next render (after a move or delete by keyboard) */
let pendingFocus: number | null = saved?.focus ?? null;

const app = document.getElementById('app') as HTMLElement;

// ---- the skeleton, built once so the input keeps its focus and caret across renders ----------
const fileLabel = h('span', { class: 'file' });
const dirtyLabel = h('span', { class: 'dirty', text: '● unsaved', attrs: { hidden: '' } });
const navPosition = h('span', { class: 'muted nav-position' });
const prevButton = button('‹ Previous', 'Previous image (Alt+PageUp, or [ outside a text box)', () => navigate('prev'), true);
const nextButton = button('Next ›', 'Next image (Alt+PageDown, or ] outside a text box)', () => navigate('next'), true);
const textButton = button('Open as Text', 'Reopen this file in the text editor', () => post({ type: 'tagEditor/command', command: 'openAsText' }), true);
const banner = h('div', { class: 'banner', attrs: { role: 'alert', hidden: '' } });
const imagePane = h('section', { class: 'image-pane', attrs: { 'aria-label': 'Image' } });
const chipList = h('div', { class: 'chips', attrs: { role: 'list', 'aria-label': 'Tags (drag or Alt+Left/Right to reorder, Delete to remove, F2 or Enter to edit)' } });
const chipHeading = h('h2', { text: 'Tags' });
const input = h('input', {
  class: 'add-input',
  attrs: { type: 'text', placeholder: 'Add tags… (Enter or Tab accepts; commas add several)', 'aria-label': 'Add a tag', spellcheck: 'false', autocomplete: 'off' },
});
const completions = h('ul', { class: 'completions', attrs: { role: 'listbox', hidden: '' } });
const note = h('div', { class: 'note muted', attrs: { 'aria-live': 'polite' } });
const problemsHeading = h('h2', { text: 'Problems' });
const problemList = h('ul', { class: 'problems' });
const rawHeading = h('h2', { text: 'Text' });
const raw = h('textarea', {
  class: 'raw raw-edit',
  attrs: { 'aria-label': 'The file as text', spellcheck: 'false', autocomplete: 'off', rows: '4', placeholder: '(empty file: type tags separated by commas)' },
}) as HTMLTextAreaElement;
const rawReason = h('div', { class: 'raw-reason muted', attrs: { hidden: '' } });
const otherSection = h('section', { class: 'other', attrs: { hidden: '' } });
const suggestButton = button('Suggest Tags', 'Run the WD14 tagger on this image and show its tags with scores', () => {
  post({ type: 'tagEditor/suggest' });
}, true);
const suggestBody = h('div', { class: 'suggestions' });

input.value = saved?.draft ?? '';

app.replaceChildren(
  h(
    'header',
    { class: 'toolbar' },
    h('div', { class: 'title' }, fileLabel, dirtyLabel),
    h('div', { class: 'actions' }, prevButton, navPosition, nextButton, textButton),
  ),
  banner,
  h(
    'div',
    { class: 'layout' },
    imagePane,
    h(
      'section',
      { class: 'tag-pane' },
      chipHeading,
      chipList,
      h('div', { class: 'add' }, input, completions),
      note,
      problemsHeading,
      problemList,
      h('div', { class: 'suggest-head' }, h('h2', { text: 'Suggestions' }), suggestButton),
      suggestBody,
      rawHeading,
      raw,
      rawReason,
      otherSection,
    ),
  ),
);

function button(label: string, title: string, onClick: () => void, secondary = false): HTMLElement {
  const b = h('vscode-button' as 'button', { text: label, title, attrs: secondary ? { secondary: '' } : {} });
  b.addEventListener('click', onClick);
  return b;
}

function saveView(): void {
  const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.index : undefined;
  setState<ViewState>({ draft: input.value, focus: focused !== undefined ? Number(focused) : null });
}

function editable(): boolean {
  return !!state && state.blocked === null;
}

function send(edit: TagEditOp): void {
  if (!state || !editable()) return;
  post({ type: 'tagEditor/edit', version: state.version, edit });
}

function navigate(direction: 'prev' | 'next'): void {
  if (!state) return;
  if (direction === 'prev' ? !state.nav.hasPrev : !state.nav.hasNext) return;
  saveView();
  post({ type: 'tagEditor/navigate', direction });
}

const looseKey = (s: string): string => s.toLowerCase().replace(/_/g, ' ').replace(/\s+/g, ' ').trim();

// ---- rendering ------------------------------------------------------------------------------
function render(): void {
  const s = state;
  if (!s) return;
  document.title = `Tags: ${s.fileName}`;
  fileLabel.textContent = s.fileName;
  fileLabel.title = s.file;
  dirtyLabel.toggleAttribute('hidden', !s.dirty);
  navPosition.textContent = s.nav.count > 1 ? `${s.nav.position + 1} / ${s.nav.count}` : '';
  prevButton.toggleAttribute('disabled', !s.nav.hasPrev);
  nextButton.toggleAttribute('disabled', !s.nav.hasNext);

  banner.replaceChildren();
  banner.toggleAttribute('hidden', !s.blocked);
  if (s.blocked) {
    banner.append(h('span', { text: s.blocked.message }));
    if (s.blocked.canRemoveBom) banner.append(button('Remove Byte-Order Mark', 'Rewrite the file as UTF-8 without a byte-order mark', () => post({ type: 'tagEditor/command', command: 'removeBom' })));
  }
  input.disabled = !editable();

  renderImage(s);
  if (drag || chipEdit) chipsPending = true;
  else renderChips(s);
  renderProblems(s);
  renderSuggestions();

  renderRaw(s);
  rawHeading.textContent = `Text of ${s.fileName}` + (s.extraLines ? ` (${s.extraLines} more line${s.extraLines === 1 ? '' : 's'}: sd-scripts uses only the first without enable_wildcard)` : '');

  otherSection.replaceChildren();
  otherSection.toggleAttribute('hidden', !s.other);
  if (s.other) {
    otherSection.append(h('h2', { text: `${s.other.name} (read-only)` }), h('pre', { class: 'raw other-text', text: s.other.text || '(empty file)' }));
  }
  note.textContent = s.note ?? '';
  app.setAttribute('aria-busy', 'false');
  updateCompletions();
}

// ---- the raw text: an editable box bound to the document ---------------------------------------
// What is typed goes to the host (debounced) as the whole text; the host applies one minimal
// replace and answers with a state carrying `ack`. Until then, and while keystrokes wait to be
// sent, a state does not overwrite the box; otherwise it shows the document, keeping the caret.
const RAW_DEBOUNCE_MS = 300;
let rawTimer: ReturnType<typeof setTimeout> | undefined;
/** keystrokes not sent yet */
let rawPending = false;
/** the seq of the sent text the host has not answered yet */
let rawInFlight: number | null = null;
let rawSeq = 0;

const lf = (t: string): string => t.replace(/\r\n|\r/g, '\n');

function renderRaw(s: TagEditorState): void {
  const can = editable();
  raw.readOnly = !can;
  raw.classList.toggle('readonly', !can);
  rawReason.toggleAttribute('hidden', can);
  rawReason.textContent = s.blocked ? `Read-only: ${s.blocked.message}` : '';
  if (s.ack !== undefined && s.ack === rawInFlight) rawInFlight = null;
  if (can && (rawPending || rawInFlight !== null)) {
    if (rawInFlight === null) scheduleRawFlush();
    return;
  }
  const next = lf(s.text);
  const old = raw.value;
  if (old === next) return;
  if (document.activeElement === raw) {
    // map the caret through the change: before it unchanged, after it shifted
    const a = mapOffsetThroughChange(old, next, raw.selectionStart);
    const b = mapOffsetThroughChange(old, next, raw.selectionEnd);
    raw.value = next;
    raw.setSelectionRange(a, b);
  } else raw.value = next;
  fitRaw();
}

function fitRaw(): void {
  raw.style.height = 'auto';
  raw.style.height = `${Math.min(Math.max(raw.scrollHeight + 2, 60), 320)}px`;
}

function scheduleRawFlush(): void {
  if (rawTimer) clearTimeout(rawTimer);
  rawTimer = setTimeout(flushRaw, RAW_DEBOUNCE_MS);
}

function flushRaw(): void {
  rawTimer = undefined;
  if (!rawPending || rawInFlight !== null || !state || !editable()) return;
  rawPending = false;
  rawInFlight = ++rawSeq;
  post({ type: 'tagEditor/setText', version: state.version, text: raw.value, seq: rawInFlight });
}

raw.addEventListener('input', () => {
  if (!editable()) return;
  rawPending = true;
  fitRaw();
  scheduleRawFlush();
});
// leaving the box sends what is there at once
raw.addEventListener('blur', () => {
  if (rawPending) flushRaw();
});

let shownImage = '';
function renderImage(s: TagEditorState): void {
  const key = JSON.stringify(s.image);
  if (key === shownImage) return;
  shownImage = key;
  const img = s.image;
  if (!img) {
    imagePane.replaceChildren(h('div', { class: 'placeholder', text: `No image named like ${s.fileName} sits next to it.` }));
    return;
  }
  const size = img.width && img.height ? `${img.width} × ${img.height}` : 'size unknown';
  const meta = h('div', { class: 'image-meta muted' }, h('span', { class: 'image-name', text: img.name }), h('span', { text: ` · ${size}${img.format && img.format !== 'unknown' ? ` · ${img.format.toUpperCase()}` : ''}` }));
  if (!img.src) {
    imagePane.replaceChildren(h('div', { class: 'placeholder', text: img.problem ?? `${img.name} cannot be shown.` }), meta);
    return;
  }
  const el = h('img', { attrs: { src: img.src, alt: img.name, title: 'Open the image in VS Code' } });
  el.addEventListener('error', () => {
    imagePane.replaceChildren(h('div', { class: 'placeholder', text: `${img.name} cannot be shown: the browser could not decode it.` }), meta);
  });
  el.addEventListener('click', () => post({ type: 'tagEditor/command', command: 'openImage' }));
  imagePane.replaceChildren(h('div', { class: 'frame' }, el), meta);
  if (img.problem) imagePane.append(h('div', { class: 'warning-text', text: img.problem }));
}

function renderChips(s: TagEditorState): void {
  const focusedIndex =
    pendingFocus ?? (document.activeElement instanceof HTMLElement && document.activeElement.classList.contains('chip') ? Number(document.activeElement.dataset.index) : null);
  pendingFocus = null;
  const can = editable();
  chipHeading.textContent = `Tags (${s.chips.length})`;
  const nodes: HTMLElement[] = [];
  s.chips.forEach((c, i) => {
    if (s.keepBoundary !== null && i === s.keepBoundary && s.keepBoundary > 0) nodes.push(keepMarker(s.keepBoundary));
    const worst = c.problems.reduce<string | null>((w, p) => (rank(p.severity) > rank(w) ? p.severity : w), null);
    const classes = ['chip'];
    if (c.trigger) classes.push('trigger');
    if (worst) classes.push(`problem-${worst}`);
    if (c.kept === true) classes.push('kept');
    const tips: string[] = [];
    if (c.trigger) tips.push('The trigger word of this concept.');
    if (c.kept === true) tips.push('Kept in place by keep_tokens when captions are shuffled.');
    for (const p of c.problems) tips.push(`${p.severity}: ${p.message}`);
    const chip = h('span', {
      class: classes.join(' '),
      attrs: { role: 'listitem', tabindex: '0', 'data-index': String(i), 'aria-label': `${c.text}${c.trigger ? ' (trigger word)' : ''}${c.problems.length ? `, ${c.problems.length} problem(s)` : ''}` },
    });
    if (tips.length) chip.title = tips.join('\n');
    if (c.trigger) chip.append(h('span', { class: 'badge', text: 'trigger' }));
    if (worst) chip.append(h('span', { class: 'mark', text: worst === 'error' ? '✖' : worst === 'warning' ? '⚠' : 'ℹ' }));
    chip.append(h('span', { class: 'label', text: c.text }));
    if (can) {
      const x = h('button', { class: 'remove', text: '×', title: `Remove ${c.text}`, attrs: { tabindex: '-1', 'aria-label': `Remove ${c.text}` } });
      x.addEventListener('click', (e) => {
        e.stopPropagation();
        pendingFocus = Math.min(i, s.chips.length - 2);
        send({ op: 'remove', index: i });
      });
      chip.append(x);
      chip.addEventListener('pointerdown', (e) => startDrag(e, chip, i));
    }
    chip.addEventListener('keydown', (e) => chipKey(e, i));
    if (can) {
      chip.addEventListener('dblclick', (e) => {
        if ((e.target as HTMLElement).closest('.remove')) return;
        e.preventDefault();
        startChipEdit(i);
      });
    }
    nodes.push(chip);
  });
  if (s.keepBoundary === 0 && s.chips.length) nodes.unshift(keepMarker(0));
  if (!s.chips.length) nodes.push(h('span', { class: 'muted', text: s.blocked && s.blocked.code !== 'readOnly' && s.blocked.code !== 'bom' ? 'The tags cannot be shown.' : 'No tags yet: add some below.' }));
  chipList.replaceChildren(...nodes);
  if (focusedIndex !== null && focusedIndex >= 0) {
    const target = chipList.querySelector<HTMLElement>(`.chip[data-index="${Math.min(focusedIndex, s.chips.length - 1)}"]`);
    target?.focus();
  }
}

function keepMarker(n: number): HTMLElement {
  return h('span', {
    class: 'keep-boundary',
    title: n === 0 ? 'shuffle_caption is on and keep_tokens is 0: every tag is shuffled' : `shuffle_caption: the ${n} tag(s) before this line stay in place (keep_tokens); the rest are shuffled`,
    attrs: { role: 'separator', 'aria-label': 'keep_tokens boundary' },
  });
}

function rank(sev: string | null): number {
  return sev === 'error' ? 4 : sev === 'warning' ? 3 : sev === 'info' ? 2 : sev === 'hint' ? 1 : 0;
}

function renderProblems(s: TagEditorState): void {
  problemsHeading.textContent = `Problems (${s.problems.length})`;
  if (!s.problems.length) {
    problemList.replaceChildren(h('li', { class: 'muted', text: 'No problem found in this file.' }));
    return;
  }
  problemList.replaceChildren(
    ...s.problems.map((p, pi) => {
      const li = h('li', { class: `sev-${p.severity}` }, h('span', { class: 'code', text: p.code }), h('span', { class: 'message', text: p.message, title: p.message }));
      if (editable()) {
        p.fixes.forEach((title, fi) => {
          const b = h('button', { class: 'fix', text: title, title: 'Apply this fix' });
          b.addEventListener('click', () => state && post({ type: 'tagEditor/fix', version: state.version, problem: pi, fix: fi }));
          li.append(b);
        });
      }
      if (p.chip !== null) {
        li.addEventListener('mouseenter', () => chipList.querySelector(`.chip[data-index="${p.chip}"]`)?.classList.add('highlight'));
        li.addEventListener('mouseleave', () => chipList.querySelector(`.chip[data-index="${p.chip}"]`)?.classList.remove('highlight'));
      }
      return li;
    }),
  );
}

function renderSuggestions(): void {
  const s = suggestions;
  if (!s) {
    suggestBody.replaceChildren(
      h('p', {
        class: 'muted',
        text: state?.taggerConfigured ? 'Run the WD14 tagger on this image and click a tag to add it.' : 'Needs a WD14 model folder (setting loraWorkbench.tagger.modelFolder).',
      }),
    );
    return;
  }
  if (s.status === 'running') {
    suggestBody.replaceChildren(h('div', { class: 'loading' }, h('vscode-progress-ring' as 'div'), h('span', { text: 'Running the tagger on this image…' })));
    return;
  }
  if (s.status === 'unconfigured' || s.status === 'error') {
    const p = h('p', { class: s.status === 'error' ? 'error' : 'muted', text: s.message ?? '' });
    if (s.status === 'unconfigured') {
      const link = h('span', { class: 'link', text: ' Open the setting' });
      link.addEventListener('click', () => post({ type: 'tagEditor/command', command: 'openTaggerSettings' }));
      p.append(link);
    }
    suggestBody.replaceChildren(p);
    return;
  }
  const present = new Set((state?.chips ?? []).map((c) => looseKey(c.name)));
  suggestBody.replaceChildren(
    h(
      'div',
      { class: 'suggest-chips', attrs: { role: 'list' } },
      ...(s.tags ?? []).map((t) => {
        const has = present.has(looseKey(t.tag));
        const b = h(
          'button',
          { class: has ? 'suggestion present' : 'suggestion', title: has ? 'Already in the file' : `Add ${t.tag}`, attrs: { role: 'listitem', ...(has || !editable() ? { disabled: '' } : {}) } },
          h('span', { text: has ? `✓ ${t.tag}` : t.tag }),
          h('span', { class: 'score', text: `${Math.round(t.score * 100)}%` }),
        );
        b.addEventListener('click', () => send({ op: 'add', tag: t.tag }));
        return b;
      }),
    ),
  );
}

// ---- keyboard on chips ----------------------------------------------------------------------
function chipKey(e: KeyboardEvent, i: number): void {
  if (!state) return;
  const n = state.chips.length;
  const focusChip = (j: number) => chipList.querySelector<HTMLElement>(`.chip[data-index="${j}"]`)?.focus();
  if (e.altKey && (e.key === 'ArrowLeft' || e.key === 'ArrowRight')) {
    e.preventDefault();
    const to = e.key === 'ArrowLeft' ? i - 1 : i + 1;
    if (to < 0 || to >= n) return;
    pendingFocus = to;
    send({ op: 'move', from: i, to });
  } else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
    e.preventDefault();
    focusChip(Math.max(0, Math.min(n - 1, e.key === 'ArrowLeft' ? i - 1 : i + 1)));
  } else if (e.key === 'Home' || e.key === 'End') {
    e.preventDefault();
    focusChip(e.key === 'Home' ? 0 : n - 1);
  } else if (e.key === 'Delete' || e.key === 'Backspace') {
    e.preventDefault();
    pendingFocus = n > 1 ? Math.min(i, n - 2) : null;
    if (n <= 1) input.focus();
    send({ op: 'remove', index: i });
  } else if ((e.key === 'F2' || e.key === 'Enter') && !e.altKey && !e.ctrlKey && !e.metaKey) {
    e.preventDefault();
    startChipEdit(i);
  }
}

// ---- editing a chip in place ------------------------------------------------------------------
// The chip becomes an input with the tag's name (a weight wrapper stays around the new name
// unless the typed text has its own); Enter or leaving commits, Escape cancels, an empty text
// removes the tag, commas add the extra tags right after it.
let chipEdit: { index: number; version: number; original: string; input: HTMLInputElement; list: HTMLElement; done: boolean } | undefined;

function startChipEdit(i: number): void {
  const s = state;
  const c = s?.chips[i];
  if (!s || !c || !editable() || chipEdit) return;
  const chip = chipList.querySelector<HTMLElement>(`.chip[data-index="${i}"]`);
  if (!chip) return;
  const field = h('input', {
    class: 'chip-input',
    attrs: { type: 'text', spellcheck: 'false', autocomplete: 'off', 'aria-label': `Edit ${c.text} (Enter to keep, Escape to cancel, empty to remove)` },
  }) as HTMLInputElement;
  field.value = c.weight !== null ? c.name : c.text;
  field.title = c.weight !== null ? `Keeps the weight ${c.weight}; type (name:weight) to change it` : 'Enter to keep, Escape to cancel, empty to remove';
  const list = h('ul', { class: 'completions', attrs: { role: 'listbox', hidden: '' } });
  const box = h('span', { class: 'chip-editor', attrs: { 'data-index': String(i) } }, field, list);
  field.style.width = `${Math.max(8, field.value.length + 2)}ch`;
  chipEdit = { index: i, version: s.version, original: field.value, input: field, list, done: false };
  chip.replaceWith(box);
  useCompletions(field, list, commitChipEdit);
  field.addEventListener('input', () => {
    field.style.width = `${Math.max(8, field.value.length + 2)}ch`;
    updateCompletions();
  });
  // the box is not inside the chip, so chip keys (Delete, arrows) do not reach it
  field.addEventListener('keydown', (e) => completionKey(e, () => commitChipEdit(field.value), () => endChipEdit(true)));
  field.addEventListener('blur', () => setTimeout(() => chipEdit?.input === field && commitChipEdit(field.value), 100));
  field.focus();
  field.select();
}

function commitChipEdit(text: string): void {
  const ed = chipEdit;
  if (!ed || ed.done) return;
  if (text.trim() === ed.original.trim()) {
    endChipEdit(true);
    return;
  }
  ed.done = true;
  pendingFocus = text.trim() === '' ? Math.max(0, ed.index - 1) : ed.index;
  if (state && editable()) post({ type: 'tagEditor/edit', version: ed.version, edit: { op: 'replace', index: ed.index, text, keepWeight: true } });
  endChipEdit(false, false);
}

/** Leaves the chip input: the chips are drawn again (from the latest state) and the chip focused. */
function endChipEdit(refocus: boolean, keepFocus = true): void {
  const ed = chipEdit;
  if (!ed) return;
  ed.done = true;
  chipEdit = undefined;
  useCompletions(input, completions, submit);
  closeCompletionsOf(ed.list);
  if (keepFocus || refocus) pendingFocus = ed.index;
  chipsPending = false;
  if (state) renderChips(state);
}

// ---- drag to reorder (pointer events: works with mouse, pen and touch) ------------------------
// The listeners sit on the window, not on the chip: a state arriving mid-drag must not end it.
// While a drag is on, chips are not re-rendered (the host's state is applied when it ends).
let drag: { from: number; version: number; chip: HTMLElement; startX: number; startY: number; active: boolean; to: number } | undefined;
let chipsPending = false;
const marker = h('span', { class: 'drop-marker', attrs: { 'aria-hidden': 'true' } });

function startDrag(e: PointerEvent, chip: HTMLElement, from: number): void {
  if (e.button !== 0 || !state || (e.target as HTMLElement).closest('.remove')) return;
  drag = { from, version: state.version, chip, startX: e.clientX, startY: e.clientY, active: false, to: from };
  window.addEventListener('pointermove', onDragMove);
  window.addEventListener('pointerup', onDragEnd);
  window.addEventListener('pointercancel', onDragEnd);
}

/** The slot the pointer is over: before the chip under it or after it, by its horizontal middle. */
function dropSlot(x: number, y: number): { slot: number; before: HTMLElement | null } {
  const chips = [...chipList.querySelectorAll<HTMLElement>('.chip')];
  let best = { slot: chips.length, before: null as HTMLElement | null, d: Infinity };
  chips.forEach((c, i) => {
    const r = c.getBoundingClientRect();
    const cy = r.top + r.height / 2;
    const dy = Math.abs(y - cy);
    if (dy > r.height) return;
    const left = x < r.left + r.width / 2;
    const d = dy * 4 + Math.min(Math.abs(x - r.left), Math.abs(x - r.right));
    if (d < best.d) best = { slot: left ? i : i + 1, before: left ? c : (chips[i + 1] ?? null), d };
  });
  return best;
}

function onDragMove(e: PointerEvent): void {
  if (!drag) return;
  if (!drag.active && Math.hypot(e.clientX - drag.startX, e.clientY - drag.startY) < 5) return;
  e.preventDefault();
  drag.active = true;
  drag.chip.classList.add('dragging');
  const { slot, before } = dropSlot(e.clientX, e.clientY);
  // a slot is "before chip `slot`"; moving chip `from` there lands at slot or slot-1
  drag.to = slot > drag.from ? slot - 1 : slot;
  if (before) chipList.insertBefore(marker, before);
  else chipList.append(marker);
}

function onDragEnd(e: PointerEvent): void {
  const d = drag;
  drag = undefined;
  window.removeEventListener('pointermove', onDragMove);
  window.removeEventListener('pointerup', onDragEnd);
  window.removeEventListener('pointercancel', onDragEnd);
  if (!d) return;
  d.chip.classList.remove('dragging');
  marker.remove();
  if (d.active && e.type === 'pointerup' && d.to !== d.from && state && editable()) {
    pendingFocus = d.to;
    post({ type: 'tagEditor/edit', version: d.version, edit: { op: 'move', from: d.from, to: d.to } });
  } else if (!d.active) d.chip.focus();
  if (chipsPending && state) {
    chipsPending = false;
    renderChips(state);
  }
}

// ---- add with autocomplete ------------------------------------------------------------------
let matches: TagEditorCompletion[] = [];
let active = -1;
/** the input the completion list serves (the add box, or a chip being edited) and what accepting does */
let acInput: HTMLInputElement = input as HTMLInputElement;
let acList: HTMLElement = completions;
let acAccept: (text: string) => void = (text) => submit(text);

function useCompletions(field: HTMLInputElement, list: HTMLElement, accepted: (text: string) => void): void {
  if (acList !== list) closeCompletions();
  acInput = field;
  acList = list;
  acAccept = accepted;
}

function currentPiece(): { prefix: string; piece: string } {
  const v = acInput.value;
  const at = v.lastIndexOf(',');
  return { prefix: at >= 0 ? v.slice(0, at + 1) : '', piece: v.slice(at + 1).trim() };
}

function updateCompletions(): void {
  const { piece } = currentPiece();
  const q = looseKey(piece);
  if (!q || document.activeElement !== acInput || !editable()) {
    closeCompletions();
    return;
  }
  const present = new Set((state?.chips ?? []).map((c) => looseKey(c.name)));
  const starts: typeof vocabulary = [];
  const inside: typeof vocabulary = [];
  for (const v of vocabulary) {
    if (present.has(v.key)) continue;
    if (v.key.startsWith(q)) starts.push(v);
    else if (v.key.includes(` ${q}`)) inside.push(v);
    if (starts.length >= 12) break;
  }
  matches = [...starts, ...inside].slice(0, 12).map((v) => ({ name: v.name, count: v.count, source: 'dataset' as const, listCount: null, category: null }));
  // the host answers with the concept's tags and the tag list's (tagEditor/completions)
  post({ type: 'tagEditor/complete', query: piece, present: [...present] });
  renderCompletions();
}

function renderCompletions(): void {
  if (!matches.length) {
    closeCompletions();
    return;
  }
  active = 0;
  acList.replaceChildren(
    ...matches.map((m, i) => {
      const li = h(
        'li',
        { class: m.source, attrs: { role: 'option', 'data-i': String(i), 'aria-selected': i === active ? 'true' : 'false' } },
        h('span', { class: 'name', text: m.alias !== undefined ? `${m.name} ← ${m.alias}` : m.name }),
        h('span', {
          class: 'count muted',
          text: m.source === 'dataset' ? `${m.count}/${vocabularyTotal}` : `list · ${m.category ?? 'listed'}${m.listCount !== null ? ` · ${m.listCount.toLocaleString('en-US')}` : ''}`,
        }),
      );
      li.title = m.source === 'dataset' ? `On ${m.count} of ${vocabularyTotal} tag files of this concept` : 'From the tag list (loraWorkbench.captions.tagList), not in this dataset';
      // mousedown, not click: the input must not lose focus first
      li.addEventListener('mousedown', (e) => {
        e.preventDefault();
        accept(i);
      });
      return li;
    }),
  );
  acList.removeAttribute('hidden');
}

function closeCompletions(): void {
  matches = [];
  active = -1;
  closeCompletionsOf(acList);
}

function closeCompletionsOf(list: HTMLElement): void {
  list.setAttribute('hidden', '');
  list.replaceChildren();
}

function highlight(i: number): void {
  active = (i + matches.length) % matches.length;
  acList.querySelectorAll('li').forEach((li, j) => li.setAttribute('aria-selected', j === active ? 'true' : 'false'));
}

function accept(i: number): void {
  const m = matches[i];
  if (!m) return;
  const { prefix } = currentPiece();
  acAccept(prefix + m.name);
}

function submit(text: string): void {
  if (!text.trim()) return;
  send({ op: 'add', tag: text });
  input.value = '';
  closeCompletions();
  saveView();
}

input.addEventListener('input', () => {
  updateCompletions();
  saveView();
});
input.addEventListener('focus', updateCompletions);
input.addEventListener('blur', () => setTimeout(closeCompletions, 100));
input.addEventListener('keydown', (e) => completionKey(e, () => submit(input.value)));
input.addEventListener('focus', () => useCompletions(input as HTMLInputElement, completions, submit));

/** Keys of an input with completions: arrows pick, Enter/Tab accept, Enter alone and Escape as given. */
function completionKey(e: KeyboardEvent, onEnter: () => void, onEscape?: () => void): void {
  const open = matches.length > 0;
  if (e.key === 'ArrowDown' && open) {
    e.preventDefault();
    highlight(active + 1);
  } else if (e.key === 'ArrowUp' && open) {
    e.preventDefault();
    highlight(active - 1);
  } else if ((e.key === 'Enter' || e.key === 'Tab') && open && active >= 0 && !e.shiftKey) {
    e.preventDefault();
    accept(active);
  } else if (e.key === 'Enter') {
    e.preventDefault();
    onEnter();
  } else if (e.key === 'Escape' && (open || onEscape)) {
    e.preventDefault();
    e.stopPropagation();
    if (open) closeCompletions();
    else onEscape?.();
  }
}

// ---- previous / next image ------------------------------------------------------------------
// Alt+PageUp/PageDown are VS Code keybindings (loraWorkbench.tagEditor.previousImage/nextImage):
// the webview passes its keys on to VS Code, so they work here and with the focus outside too.
// [ and ] are ours, outside text boxes only (as VS Code keybindings they would steal the
// characters from every input).
document.addEventListener('keydown', (e) => {
  const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
  if (e.altKey && (e.key === 'PageUp' || e.key === 'PageDown')) {
    e.preventDefault();
  } else if (!typing && !e.altKey && !e.ctrlKey && !e.metaKey && (e.key === '[' || e.key === ']')) {
    e.preventDefault();
    navigate(e.key === '[' ? 'prev' : 'next');
  }
});

connect((m: HostToWebview) => {
  switch (m.type) {
    case 'tagEditor/state':
      state = m.state;
      render();
      break;
    case 'tagEditor/vocabulary':
      vocabulary = m.tags.map((t) => ({ ...t, key: looseKey(t.name) }));
      vocabularyTotal = m.total;
      updateCompletions();
      break;
    case 'tagEditor/completions':
      // only the answer for what is typed now, and only while the dropdown may show
      if (m.query === currentPiece().piece && document.activeElement === acInput && editable()) {
        matches = m.items;
        renderCompletions();
      }
      break;
    case 'tagEditor/suggestions':
      suggestions = m;
      renderSuggestions();
      break;
    case 'error':
      banner.replaceChildren(h('span', { text: m.message }));
      banner.removeAttribute('hidden');
      app.setAttribute('aria-busy', 'false');
      break;
    default:
      break;
  }
});
