/**
 * A dataset's summary for the overview panel and `lwb`: per concept folder the repeats, images,
 * caption coverage and samples per epoch; the most frequent tags (counted like sd-scripts'
 * `ss_tag_frequency`); and caption files sd-scripts would choke on.
 */
import * as path from 'node:path';
import type { DatasetGroup } from './groups';
import { readCaptionFile, tagsForFrequency } from '../captions/readCaption';
import type { OverviewData, OverviewConcept } from '../protocol';

export interface OverviewOptions {
  /** The sidecar whose tags are counted (sd-scripts' caption_extension); default '.txt'. */
  captionExtension?: string;
  topTags?: number;
  /** files read at once */
  concurrency?: number;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export async function buildOverview(group: DatasetGroup, options: OverviewOptions = {}): Promise<OverviewData> {
  const captionExtension = options.captionExtension ?? '.txt';
  const counts = new Map<string, number>();
  const problems: OverviewData['problems'] = [];
  let captionFiles = 0;
  const concepts: OverviewConcept[] = [];
  for (const folder of group.folders) {
    const withSidecar: Record<string, number> = {};
    let withoutSidecar = 0;
    const files: string[] = [];
    for (const img of folder.images) {
      const keys = Object.keys(img.sidecars);
      if (keys.length === 0) withoutSidecar++;
      for (const k of keys) withSidecar[k] = (withSidecar[k] ?? 0) + 1;
      const cap = img.sidecars[captionExtension];
      if (cap) files.push(path.join(folder.path, cap));
    }
    const reads = await mapLimit(files, options.concurrency ?? 16, readCaptionFile);
    reads.forEach((r, i) => {
      captionFiles++;
      for (const p of r.problems) problems.push({ file: files[i] as string, code: p.code, message: p.message });
      for (const t of new Set(tagsForFrequency(r.firstLine))) counts.set(t, (counts.get(t) ?? 0) + 1);
    });
    const repeats = folder.concept.ok ? folder.concept.repeats : null;
    concepts.push({
      name: path.basename(folder.path),
      path: folder.path,
      repeats,
      classTokens: folder.concept.ok ? folder.concept.classTokens : null,
      images: folder.images.length,
      withSidecar,
      withoutSidecar,
      samplesPerEpoch: folder.images.length * (repeats ?? 1),
    });
  }
  const topTags = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, options.topTags ?? 40)
    .map(([tag, count]) => ({ tag, count }));
  return {
    title: path.basename(group.path),
    root: group.path,
    kind: group.kind,
    captionExtension,
    concepts,
    captionFiles,
    topTags,
    problems,
  };
}
