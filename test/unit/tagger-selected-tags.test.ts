import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { parseCsv, parseSelectedTags } from '../../src/core/tagger/selectedTags';
import { ROOT } from './helpers';

const REAL = path.join(ROOT, 'test', 'fixtures', 'wd14', 'selected_tags.csv');

describe('selected_tags.csv', () => {
  it('reads the real vendored tag list: 4 ratings, 6,909 general tags, a blank line skipped', () => {
    const r = parseSelectedTags(readFileSync(REAL, 'utf8'));
    assert.ok(r.ok);
    const t = r.tags;
    assert.deepEqual(t.ratings, ['general', 'sensitive', 'questionable', 'explicit']);
    assert.equal(t.general.length, 6909);
    assert.equal(t.character.length, 0);
    assert.equal(t.outputCount, 4 + 6909);
    assert.equal(t.general[0], '1girl');
    assert.equal(t.general[2], 'long_hair');
    assert.deepEqual(t.rows[4], { tagId: '470575', name: '1girl', category: 0, count: 4225150, line: 6 });
    assert.deepEqual(t.warnings, ['selected_tags.csv has 1 blank line (line 4997): skipped']);
    // names with characters that need care survive
    assert.ok(t.general.includes('^_^'));
  });
  it('parses quoting, CRLF and blank lines like csv.reader', () => {
    assert.deepEqual(
      parseCsv('a,b\r\n"x, y","say ""hi"""\n\nlast,').map((r) => r.fields),
      [['a', 'b'], ['x, y', 'say "hi"'], [], ['last', '']],
    );
    const r = parseSelectedTags('tag_id,name,category,count\r\n1,r,9,5\r\n2,"a,b",0,3\r\n3,c_(x),4,1\r\n\r\n');
    assert.ok(r.ok);
    assert.deepEqual([r.tags.ratings, r.tags.general, r.tags.character], [['r'], ['a,b'], ['c_(x)']]);
    assert.match(r.tags.warnings.join('\n'), /1 rating rows/);
  });
  it('orders categories as sd-scripts does and warns when the file is not ratings → general → character', () => {
    const r = parseSelectedTags('tag_id,name,category,count\n1,g,0,1\n2,r,9,1\n3,c,4,1\n4,m,5,1\n');
    assert.ok(r.ok);
    assert.deepEqual(r.tags.general, ['g']);
    assert.match(r.tags.warnings.join('\n'), /not ordered ratings/);
    assert.match(r.tags.warnings.join('\n'), /1 row of category "5" are not used/);
    // a category must be exactly "0", "4" or "9" (sd-scripts compares strings)
    const sp = parseSelectedTags('tag_id,name,category\n1,a, 0\n');
    assert.ok(!sp.ok);
  });
  it('rejects what sd-scripts rejects, without throwing', () => {
    const bad = parseSelectedTags('id,name,category\n1,a,0\n');
    assert.ok(!bad.ok);
    assert.match(bad.error, /unexpected csv format/);
    assert.ok(!parseSelectedTags('').ok);
    assert.ok(!parseSelectedTags('tag_id,name,category,count\n').ok);
    assert.ok(!parseSelectedTags(undefined as unknown as string).ok);
    const bom = parseSelectedTags('\ufefftag_id,name,category,count\n1,a,0,1\n');
    assert.ok(bom.ok);
    assert.match(bom.tags.warnings.join('\n'), /byte-order mark/);
  });
});
