/**
 * The webview side of the protocol in src/core/protocol.ts: `acquireVsCodeApi` once, typed
 * post/receive, the `ready` handshake, and view state.
 */
import type { HostToWebview, WebviewToHost } from '../../src/core/protocol';

interface VsCodeApi<S> {
  postMessage(message: WebviewToHost): void;
  getState(): S | undefined;
  setState(state: S): void;
}
declare function acquireVsCodeApi<S>(): VsCodeApi<S>;

let api: VsCodeApi<unknown> | undefined;
function vscodeApi<S>(): VsCodeApi<S> {
  api ??= acquireVsCodeApi<unknown>();
  return api as VsCodeApi<S>;
}

export function post(message: WebviewToHost): void {
  vscodeApi().postMessage(message);
}

export function getState<S>(): S | undefined {
  return vscodeApi<S>().getState();
}

export function setState<S>(state: S): void {
  vscodeApi<S>().setState(state);
}

/** Listens to the host, then tells it we are ready (so nothing it sends is lost). */
export function connect(handler: (message: HostToWebview) => void): void {
  window.addEventListener('message', (e: MessageEvent<HostToWebview>) => handler(e.data));
  post({ type: 'ready' });
}

/** Builds an element; text goes in as text, never as HTML. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { class?: string; text?: string; title?: string; attrs?: Record<string, string> } = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.text !== undefined) el.textContent = props.text;
  if (props.title) el.title = props.title;
  for (const [k, v] of Object.entries(props.attrs ?? {})) el.setAttribute(k, v);
  for (const c of children) el.append(c);
  return el;
}
