import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { categoryName, datasetStyle, inStyle, loadTagList, tagCandidates, TagListIndex } from '../../src/core/captions/tagList';
import { parseA1111TagCsv, parseWd14SelectedTags } from '../../src/core/captions/vocabulary';
import { looseTagKey } from '../../src/core/captions/parse';
import { ROOT } from './helpers';

const ds = (...tags: Array<[string, number]>) => tags.map(([name, count]) => ({ name, key: looseTagKey(name), count }));

const A1111 = [
  'long_hair,0,900,"longhair,long_hairs"',
  'looking_at_viewer,0,800,',
  'hatsune_miku,4,500,"miku"',
  'highres,5,700,"high_res,hires"',
  'lowres,5,50,',
  'blue_hair,0,600,',
  'hair_ornament,0,650,',
  '^_^,0,10,',
].join('\n');

describe('tag list index', () => {
  it('names WD14 categories 0/4/9 and a1111 tag types', () => {
    assert.equal(categoryName(0, 'wd14'), 'general');
    assert.equal(categoryName(4, 'wd14'), 'character');
    assert.equal(categoryName(9, 'wd14'), 'rating');
    assert.equal(categoryName(1, 'a1111'), 'artist');
    assert.equal(categoryName(5, 'a1111'), 'meta');
    assert.equal(categoryName(7, 'a1111'), 'category 7');
    assert.equal(categoryName(null, 'a1111'), null);
  });

  it('finds names and aliases by prefix (most used first), then words inside names', () => {
    const idx = new TagListIndex(parseA1111TagCsv(A1111), 'a1111');
    assert.deepEqual(idx.search('lo', 10).hits.map((h) => h.entry.name), ['long_hair', 'looking_at_viewer', 'lowres']);
    // "hair" starts hair_ornament; long_hair and blue_hair have a word starting with it
    assert.deepEqual(idx.search('hair', 10).hits.map((h) => h.entry.name), ['hair_ornament', 'long_hair', 'blue_hair']);
    // an alias offers the canonical tag, and says which alias matched
    assert.deepEqual(idx.search('mik', 10).hits.map((h) => [h.entry.name, h.alias]), [['hatsune_miku', 'miku']]);
    assert.deepEqual(idx.search('hires', 10).hits.map((h) => [h.entry.name, h.alias]), [['highres', 'hires']]);
    // _ and space are the same; case is ignored
    assert.deepEqual(idx.search('Long H', 10).hits.map((h) => h.entry.name), ['long_hair']);
    assert.equal(idx.lookup('Long Hair')?.count, 900);
    assert.equal(idx.lookup('longhair'), undefined, 'an alias is not a name');
  });

  it('caps the answer and says so; skipped keys do not count', () => {
    const idx = new TagListIndex(parseA1111TagCsv(A1111), 'a1111');
    const capped = idx.search('', 2);
    assert.deepEqual(capped.hits.map((h) => h.entry.name), ['long_hair', 'looking_at_viewer']);
    assert.equal(capped.capped, true);
    const skipped = idx.search('l', 2, (k) => k === 'long hair');
    assert.deepEqual(skipped.hits.map((h) => h.entry.name), ['looking_at_viewer', 'lowres']);
    assert.equal(skipped.capped, false);
  });

  it('loads the real WD14 selected_tags.csv and refuses files that are not tag lists', () => {
    const text = readFileSync(path.join(ROOT, 'test', 'fixtures', 'wd14', 'selected_tags.csv'), 'utf8');
    const r = loadTagList(text);
    assert.ok('index' in r);
    assert.equal(r.index.kind, 'wd14');
    assert.equal(r.index.size, 6913);
    assert.equal(r.index.lookup('general')?.categoryName, 'rating');
    assert.equal(r.index.lookup('1girl')?.categoryName, 'general');
    assert.equal(r.index.search('', 1).hits[0]?.entry.name, '1girl', 'the most used first');
    const bad = loadTagList('tag_id,nom,category\n1,x,0\n');
    assert.ok('error' in bad);
    const wrongHeader = loadTagList('tag_id,name,kind,count\n1,x,0,1\n');
    assert.ok('error' in wrongHeader && /header/.test(wrongHeader.error));
    const empty = loadTagList('\n\n');
    assert.ok('error' in empty && /no tags/.test(empty.error));
  });
});

describe('tag style', () => {
  it('reads the dataset style by the files that use it', () => {
    assert.equal(datasetStyle(ds(['long hair', 5], ['blue_eyes', 2], ['1girl', 9])), 'space');
    assert.equal(datasetStyle(ds(['long hair', 1], ['blue_eyes', 2])), 'underscore');
    assert.equal(datasetStyle(ds(['1girl', 3], ['solo', 3])), null);
  });
  it('writes a listed tag in that style, short emoticons untouched', () => {
    assert.equal(inStyle('looking_at_viewer', 'space'), 'looking at viewer');
    assert.equal(inStyle('^_^', 'space'), '^_^');
    assert.equal(inStyle('o_o', 'space'), 'o_o');
    assert.equal(inStyle('long hair', 'underscore'), 'long_hair');
    assert.equal(inStyle('long_hair', null), 'long_hair');
  });
});

describe('tag candidates', () => {
  const idx = new TagListIndex(parseA1111TagCsv(A1111), 'a1111');

  it('puts the dataset tags first by frequency, then listed tags the dataset lacks', () => {
    const dataset = ds(['tk', 14], ['lora_tag', 2], ['looking_at_viewer', 9], ['long_hair', 3]);
    const { items, incomplete } = tagCandidates('lo', dataset, idx);
    assert.deepEqual(items.map((i) => [i.tag, i.source, i.datasetCount]), [
      ['looking_at_viewer', 'dataset', 9],
      ['long_hair', 'dataset', 3],
      ['lora_tag', 'dataset', 2],
      ['lowres', 'list', 0],
    ]);
    assert.equal(incomplete, false);
    // a dataset tag that is also listed carries the list's data
    assert.deepEqual([items[0]?.listCount, items[0]?.categoryName], [800, 'general']);
    assert.deepEqual([items[3]?.listCount, items[3]?.categoryName], [50, 'meta']);
  });

  it('inserts listed tags in the dataset style and offers the canonical tag for an alias', () => {
    const spaced = ds(['blue eyes', 4], ['1girl', 4]);
    assert.deepEqual(tagCandidates('look', spaced, idx).items.map((i) => i.tag), ['looking at viewer']);
    const alias = tagCandidates('longh', spaced, idx).items;
    assert.deepEqual(alias.map((i) => [i.tag, i.alias]), [['long hair', 'longhair']]);
    const underscored = ds(['blue_eyes', 4]);
    assert.deepEqual(tagCandidates('look', underscored, idx).items.map((i) => i.tag), ['looking_at_viewer']);
  });

  it('leaves out the tags already in the file, and works without a list', () => {
    const dataset = ds(['long_hair', 3], ['lowres', 1]);
    const present = new Set(['long hair']);
    assert.deepEqual(tagCandidates('lo', dataset, idx, { present }).items.map((i) => i.tag), ['lowres', 'looking_at_viewer']);
    assert.deepEqual(tagCandidates('lo', dataset, undefined, { present }).items.map((i) => i.tag), ['lowres']);
  });

  it('marks the answer incomplete when a source was capped', () => {
    assert.equal(tagCandidates('', ds(['a', 1]), idx, { listLimit: 3 }).incomplete, true);
    assert.equal(tagCandidates('', ds(['a', 1], ['b', 1]), undefined, { datasetLimit: 1 }).incomplete, true);
    assert.equal(tagCandidates('hi', ds(['a', 1]), idx, { listLimit: 3 }).incomplete, false);
  });
});

describe('WD14 parse feeds the index', () => {
  it('keeps the first of repeated names', () => {
    const idx = new TagListIndex(parseWd14SelectedTags('tag_id,name,category,count\n1,a_b,0,5\n2,A b,4,7\n'), 'wd14');
    assert.equal(idx.size, 1);
    assert.equal(idx.lookup('a b')?.count, 5);
  });
});

describe('tag editor completion message', () => {
  it('is accepted from the webview only with a query and the present tags as strings', async () => {
    const { isWebviewToHost } = await import('../../src/core/protocol');
    assert.equal(isWebviewToHost({ type: 'tagEditor/complete', query: 'look', present: ['tk', 'solo'] }), true);
    assert.equal(isWebviewToHost({ type: 'tagEditor/complete', query: 'look' }), false);
    assert.equal(isWebviewToHost({ type: 'tagEditor/complete', query: 3, present: [] }), false);
    assert.equal(isWebviewToHost({ type: 'tagEditor/complete', query: 'x', present: [1] }), false);
  });
});
