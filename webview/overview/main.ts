/** Dataset overview webview: renders what the host computed (src/core/dataset/overview.ts). */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import './style.css';
import type { HostToWebview, OverviewData } from '../../src/core/protocol';
import { connect, h, post, setState } from '../shared/api';

const app = document.getElementById('app') as HTMLElement;

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function card(value: string, label: string): HTMLElement {
  return h('div', { class: 'card' }, h('div', { class: 'value', text: value }), h('div', { class: 'label', text: label }));
}

function render(d: OverviewData): void {
  setState({ root: d.root });
  const images = d.concepts.reduce((n, c) => n + c.images, 0);
  const samples = d.concepts.reduce((n, c) => n + c.samplesPerEpoch, 0);
  const withCaption = d.concepts.reduce((n, c) => n + (c.withSidecar[d.captionExtension] ?? 0), 0);
  const refresh = h('vscode-button' as 'button', { attrs: { secondary: '' }, text: 'Refresh' });
  refresh.addEventListener('click', () => post({ type: 'refresh' }));

  const rows = d.concepts.map((c) =>
    h(
      'tr',
      {},
      h('td', { text: c.name }),
      h('td', { class: 'num', text: c.repeats === null ? '—' : String(c.repeats) }),
      h('td', { text: c.classTokens ?? '—' }),
      h('td', { class: 'num', text: fmt(c.images) }),
      h('td', { class: 'num', text: fmt(c.withSidecar[d.captionExtension] ?? 0) }),
      h('td', { class: 'num', text: fmt(c.withoutSidecar) }),
      h('td', { class: 'num', text: fmt(c.samplesPerEpoch) }),
    ),
  );
  const table = h(
    'table',
    { attrs: { 'aria-label': 'Concept folders' } },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { text: 'Folder' }),
        h('th', { class: 'num', text: 'Repeats' }),
        h('th', { text: 'Class tokens' }),
        h('th', { class: 'num', text: 'Images' }),
        h('th', { class: 'num', text: `With ${d.captionExtension}` }),
        h('th', { class: 'num', text: 'No caption' }),
        h('th', { class: 'num', text: 'Samples / epoch' }),
      ),
    ),
    h('tbody', {}, ...rows),
  );

  const tags = h(
    'div',
    { class: 'tags', attrs: { role: 'list', 'aria-label': 'Most frequent tags' } },
    ...d.topTags.map((t) =>
      h(
        'span',
        {
          class: t.count === d.captionFiles && d.captionFiles > 1 ? 'tag all' : 'tag',
          title:
            t.count === d.captionFiles && d.captionFiles > 1
              ? 'On every image: if this is what the trigger word should learn, it competes with the trigger.'
              : `${t.count} of ${d.captionFiles} caption files`,
          attrs: { role: 'listitem' },
        },
        h('span', { text: t.tag }),
        h('span', { class: 'count', text: fmt(t.count) }),
      ),
    ),
  );

  const problems = d.problems.length
    ? h(
        'ul',
        { class: 'problems' },
        ...d.problems.slice(0, 200).map((p) => {
          const link = h('span', { class: 'link', text: p.file.slice(d.root.length + 1) || p.file });
          link.addEventListener('click', () => post({ type: 'openFile', path: p.file }));
          return h('li', {}, link, `: ${p.message}`);
        }),
      )
    : h('p', { class: 'muted', text: `No problem found in the ${fmt(d.captionFiles)} ${d.captionExtension} files.` });

  app.replaceChildren(
    h(
      'header',
      {},
      h('div', {}, h('h1', { text: d.title }), h('div', { class: 'muted path', text: d.root })),
      refresh,
    ),
    h(
      'section',
      { class: 'cards' },
      card(fmt(images), 'images'),
      card(fmt(d.concepts.length), d.kind === 'kohyaFolder' ? 'concept folders' : 'folder'),
      card(fmt(samples), 'samples per epoch'),
      card(images ? `${Math.round((withCaption / images) * 100)}%` : '—', `have ${d.captionExtension}`),
    ),
    h('h2', { text: 'Concepts' }),
    table,
    h('h2', { text: `Most frequent tags (${d.captionExtension})` }),
    d.topTags.length ? tags : h('p', { class: 'muted', text: 'No tags found.' }),
    h('h2', { text: `Caption problems (${fmt(d.problems.length)})` }),
    problems,
  );
  app.setAttribute('aria-busy', 'false');
}

connect((m: HostToWebview) => {
  switch (m.type) {
    case 'overview/loading':
      if (app.getAttribute('aria-busy') !== 'false') {
        app.replaceChildren(
          h('div', { class: 'loading' }, h('vscode-progress-ring' as 'div'), h('span', { text: `Reading ${m.title}…` })),
        );
      }
      break;
    case 'overview/data':
      render(m.data);
      break;
    case 'error':
      app.replaceChildren(h('p', { class: 'error', text: m.message }));
      app.setAttribute('aria-busy', 'false');
      break;
  }
});
