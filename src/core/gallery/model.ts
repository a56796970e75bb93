/**
 * The gallery's data: the images of one folder tree from the dataset index (paths, sizes,
 * dimensions, tags), a compiled tag filter over them, and pages of the filtered list for the
 * webview. The host keeps it; the webview asks for the pages it shows. File changes go through
 * `DatasetIndex.update`, so one new or edited file costs one file's work, not a rescan.
 * Pure Node (no vscode).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { decodeCaption, tagsForFrequency } from '../captions/readCaption';
import { normaliseSidecarExtension } from '../dataset/images';
import { DatasetIndex, type FileChange, type IndexedImage, type IndexOptions } from '../dataset/index';
import { compileTagQuery, parseTagQuery, TagVocabulary, type TagPredicate, type TagQueryDoc } from '../dataset/tagQuery';
import { fromIndices, type RangeSet } from './selection';
import type { GalleryItem } from '../protocol';

export interface GalleryEntry extends TagQueryDoc {
  image: IndexedImage;
}

/** One cell's metadata, as sent to the webview (the protocol's item without its thumbnail). */
export type GalleryItemData = Omit<GalleryItem, 'thumb' | 'error'>;

/** Longest tag text sent per cell: a cell shows two lines at most. */
const TAG_TEXT_LIMIT = 240;

export class GalleryModel {
  readonly vocab = new TagVocabulary();
  private readonly entries = new Map<string, GalleryEntry>();
  private order: GalleryEntry[] = [];
  private result: GalleryEntry[] = [];
  private predicate: TagPredicate = () => true;
  private queryText = '';
  private tagExtension = '.txt';
  /**
   * True between the listing and the end of the header and tag reads: names and order are
   * final, sizes, dimensions and tags not yet (pages read their tag files themselves).
   */
  preview = false;

  private constructor(readonly index: DatasetIndex) {}

  /**
   * Indexes `root`. `onPreview` gets the model as soon as the folders are listed (before any
   * header or tag file is read), so a first page can be shown at once; the promise resolves
   * with the same model, complete.
   */
  static async open(root: string, options: IndexOptions = {}, onPreview?: (m: GalleryModel) => void): Promise<GalleryModel> {
    const tagExtension = normaliseSidecarExtension(options.tagExtension ?? '.txt');
    let early: GalleryModel | undefined;
    const index = await DatasetIndex.build(root, {
      ...options,
      tagExtension,
      onListed: (ix) => {
        early = new GalleryModel(ix);
        early.tagExtension = tagExtension;
        early.preview = true;
        early.rebuildOrder(new Set(), true);
        early.refilter();
        try {
          onPreview?.(early);
        } catch {
          // a listener's error must not stop the index
        }
      },
    });
    const m = early ?? new GalleryModel(index);
    m.tagExtension = tagExtension;
    m.preview = false;
    m.rebuildOrder(new Set(), true);
    m.predicate = compileTagQuery(parseTagQuery(m.queryText), m.vocab);
    m.refilter();
    return m;
  }

  /** Is this image's header read (size and mtime known)? False only during the preview. */
  static isRead(img: IndexedImage): boolean {
    return img.mtimeMs !== 0 || img.size !== 0 || img.format !== 'unknown' || img.header.problems.length > 0;
  }

  /** Builds a model on an index someone else built (benchmarks, tests). */
  static fromIndex(index: DatasetIndex): GalleryModel {
    const m = new GalleryModel(index);
    m.rebuildOrder(new Set(), true);
    m.refilter();
    return m;
  }

  get root(): string {
    return this.index.root;
  }

  get total(): number {
    return this.order.length;
  }

  get matched(): number {
    return this.result.length;
  }

  get query(): string {
    return this.queryText;
  }

  private entryFor(img: IndexedImage): GalleryEntry {
    const tags = img.tags ?? [];
    const ids = new Uint32Array(tags.length);
    for (let i = 0; i < tags.length; i++) ids[i] = this.vocab.intern(tags[i] as string);
    return { image: img, tagIds: ids, name: img.name.toLowerCase(), text: tags.join(', ') };
  }

  /** Re-reads the image list in tree order; `stale` entries (changed files) are rebuilt. */
  private rebuildOrder(stale: Set<string>, all = false): void {
    const order: GalleryEntry[] = [];
    const seen = new Set<string>();
    for (const img of this.index.allImages()) {
      let e = this.entries.get(img.path);
      if (!e || all || stale.has(img.path) || e.image !== img) {
        e = this.entryFor(img);
        this.entries.set(img.path, e);
      }
      seen.add(img.path);
      order.push(e);
    }
    if (this.entries.size !== seen.size) for (const k of [...this.entries.keys()]) if (!seen.has(k)) this.entries.delete(k);
    this.order = order;
  }

  private refilter(): void {
    const p = this.predicate;
    const out: GalleryEntry[] = [];
    for (const e of this.order) if (p(e)) out.push(e);
    this.result = out;
  }

  /** Sets the filter (throws TagQueryError with the position of a syntax error); returns the match count. */
  setQuery(query: string): number {
    const node = parseTagQuery(query);
    this.predicate = compileTagQuery(node, this.vocab);
    this.queryText = query;
    this.refilter();
    return this.result.length;
  }

  /** Items [start, end) of the filtered list. */
  page(start: number, end: number): GalleryItemData[] {
    const s = Math.max(0, Math.floor(start));
    const e = Math.min(this.result.length, Math.floor(end));
    const out: GalleryItemData[] = [];
    for (let i = s; i < e; i++) {
      const entry = this.result[i] as GalleryEntry;
      out.push(itemData(entry, this.root, this.preview && entry.image.tags === undefined ? this.readTagsNow(entry.image) : undefined));
    }
    return out;
  }

  /** The tags of one image read right away (the preview shows them before the index has). */
  private readTagsNow(img: IndexedImage): string[] {
    const side = img.sidecars[this.tagExtension];
    if (!side) return [];
    try {
      return tagsForFrequency(decodeCaption(readFileSync(path.join(img.folder, side))).firstLine);
    } catch {
      return [];
    }
  }

  entryAt(i: number): GalleryEntry | undefined {
    return this.result[i];
  }

  /** Paths of the selected items of the filtered list (at most `limit`). */
  pathsOf(ranges: RangeSet, limit = Infinity): string[] {
    const out: string[] = [];
    for (const [a, b] of ranges) {
      for (let i = a; i < Math.min(b, this.result.length); i++) {
        if (out.length >= limit) return out;
        out.push((this.result[i] as GalleryEntry).image.path);
      }
    }
    return out;
  }

  /** Where these paths are in the filtered list now, as ranges (paths no longer shown drop out). */
  rangesOf(paths: Iterable<string>): RangeSet {
    const want = new Set(paths);
    if (want.size === 0) return [];
    const idx: number[] = [];
    this.result.forEach((e, i) => {
      if (want.has(e.image.path)) idx.push(i);
    });
    return fromIndices(idx);
  }

  /**
   * Applies file changes. Returns the paths whose entry changed (added, edited or removed), or
   * an empty list when the changes did not touch an image or its tags.
   */
  async applyChanges(changes: readonly FileChange[]): Promise<{ changed: string[]; removed: string[] }> {
    const d = await this.index.update(changes);
    const touched = [...d.added, ...d.changed];
    if (touched.length === 0 && d.removed.length === 0 && d.removedFolders.length === 0 && d.folders.length === 0) {
      return { changed: [], removed: [] };
    }
    // the compiled filter holds tag ids; a new tag in a changed file needs a recompile
    this.rebuildOrder(new Set(touched));
    this.predicate = compileTagQuery(parseTagQuery(this.queryText), this.vocab);
    this.refilter();
    return { changed: touched, removed: d.removed };
  }
}

export function itemData(e: GalleryEntry, root: string, tagsNow?: string[]): GalleryItemData {
  const img = e.image;
  const tags = tagsNow ?? img.tags ?? [];
  let text = '';
  for (const t of tags) {
    const next = text ? `${text}, ${t}` : t;
    if (next.length > TAG_TEXT_LIMIT) {
      text = `${text}, …`;
      break;
    }
    text = next;
  }
  const rel = path.relative(root, img.folder);
  const item: GalleryItemData = {
    path: img.path,
    name: img.name,
    folder: rel.split(path.sep).join('/'),
    size: img.size,
    tags: text,
    tagCount: tags.length,
    hasCaption: Object.keys(img.sidecars).length > 0,
  };
  if (img.width !== undefined) item.width = img.width;
  if (img.height !== undefined) item.height = img.height;
  return item;
}
