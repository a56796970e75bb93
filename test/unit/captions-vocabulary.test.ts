import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseA1111TagCsv, parseCsv, parseTagList, parseWd14SelectedTags, TagVocabulary } from '../../src/core/captions/vocabulary';

describe('tag lists', () => {
  it('parses CSV with quotes, escaped quotes, CRLF and a BOM', () => {
    assert.deepEqual(parseCsv('\ufeffa,"b,c","d ""e"""\r\n\r\nx,,\n'), [['a', 'b,c', 'd "e"'], ['x', '', '']]);
    assert.deepEqual(parseCsv(''), []);
    assert.deepEqual(parseCsv('"unterminated,x'), [['unterminated,x']]);
    // lines without quotes take a fast path: CR-only, CRLF and LF line ends, a quoted field over two lines
    assert.deepEqual(parseCsv('a,b\rc,d\r\n"x\ny",z\n\nlast'), [['a', 'b'], ['c', 'd'], ['x\ny', 'z'], ['last']]);
  });
  it('reads WD14 selected_tags.csv, blank lines included', () => {
    const csv = 'tag_id,name,category,count\n9999999,general,9,807489\n\n470575,1girl,0,4225150\n212816,solo,0,3582574\r\n\r\n1,"odd,tag",0,x\n';
    assert.deepEqual(parseWd14SelectedTags(csv), [
      { name: 'general', category: 9, count: 807489, aliases: [] },
      { name: '1girl', category: 0, count: 4225150, aliases: [] },
      { name: 'solo', category: 0, count: 3582574, aliases: [] },
      { name: 'odd,tag', category: 0, count: null, aliases: [] },
    ]);
    assert.equal(parseTagList(csv).length, 4);
  });
  it('reads an a1111 tag-complete CSV with aliases', () => {
    const csv = '1girl,0,4114588,"1girls,sole_female"\nsolo,0,3426446,"female_solo,solo_female"\nhighres,5,3008413,"high_res,high_resolution,hires"\nno_aliases,0,5\n,0,1\nbad count,x,y\n';
    assert.deepEqual(parseA1111TagCsv(csv), [
      { name: '1girl', category: 0, count: 4114588, aliases: ['1girls', 'sole_female'] },
      { name: 'solo', category: 0, count: 3426446, aliases: ['female_solo', 'solo_female'] },
      { name: 'highres', category: 5, count: 3008413, aliases: ['high_res', 'high_resolution', 'hires'] },
      { name: 'no_aliases', category: 0, count: 5, aliases: [] },
      { name: 'bad count', category: null, count: null, aliases: [] },
    ]);
    assert.equal(parseTagList(csv)[0]?.aliases.length, 2);
  });
});

describe('tag vocabulary', () => {
  it('completes dataset tags by frequency, then listed tags, matching _ and space alike', () => {
    const v = new TagVocabulary();
    v.addFileTags(['tk', 'blue_hair', 'blue_eyes']);
    v.addFileTags(['tk', 'blue_eyes', 'blue_eyes']);
    v.addList(parseA1111TagCsv('blue_sky,0,500,\nblue_eyes,0,900,\nlong hair,0,800,"longhair"\n'));
    assert.deepEqual(v.complete('blue').map((c) => [c.tag, c.datasetCount, c.listCount]), [
      ['blue_eyes', 2, 900],
      ['blue_hair', 1, null],
      ['blue_sky', 0, 500],
    ]);
    assert.deepEqual(v.complete('blue e').map((c) => c.tag), ['blue_eyes']);
    assert.deepEqual(v.complete('hair').map((c) => c.tag), ['blue_hair', 'long hair']);
    assert.deepEqual(v.complete('longh'), [{ tag: 'long hair', datasetCount: 0, listCount: 800, category: 0, alias: 'longhair' }]);
    assert.equal(v.count('Blue Eyes'), 2);
    v.removeFileTags(['blue_hair']);
    assert.equal(v.count('blue_hair'), 0);
    assert.deepEqual(v.complete('blue_h'), []);
    assert.equal(v.complete('', 2).length, 2);
  });
});
