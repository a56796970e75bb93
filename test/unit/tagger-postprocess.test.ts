import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  captionPathFor,
  captionText,
  parseTagReplacement,
  prepareTags,
  tagFrequency,
  tagsFromScores,
  type TaggerOptions,
} from '../../src/core/tagger/postprocess';

// a tag list in selected_tags.csv order: 4 ratings, general, character
const TAGS = {
  ratings: ['general', 'sensitive', 'questionable', 'explicit'],
  general: ['1girl', 'long_hair', '^_^', 'solo', 'x_y'],
  character: ['hatsune_miku', 'kirisame_marisa_(touhou)'],
};
//                    ratings                 1girl long  ^_^  solo  x_y   miku marisa
const SCORES = [0.1, 0.7, 0.15, 0.05, /**/ 0.9, 0.35, 0.6, 0.34, 0.5, /**/ 0.8, 0.4];

const run = (o: TaggerOptions = {}) => tagsFromScores(SCORES, prepareTags(TAGS, o)).tags;

describe('WD14 tag post-processing, with sd-scripts option names', () => {
  it('keeps scores >= the threshold (default 0.35), general in order, then character tags', () => {
    assert.deepEqual(run(), ['1girl', 'long_hair', '^_^', 'x_y', 'hatsune_miku', 'kirisame_marisa_(touhou)']);
  });
  it('general_threshold and character_threshold default to thresh; above 1 disables a category', () => {
    assert.deepEqual(run({ thresh: 0.55 }), ['1girl', '^_^', 'hatsune_miku']);
    assert.deepEqual(run({ thresh: 0.55, character_threshold: 0.3 }), ['1girl', '^_^', 'hatsune_miku', 'kirisame_marisa_(touhou)']);
    assert.deepEqual(run({ general_threshold: 0.85, character_threshold: 1.01 }), ['1girl']);
  });
  it('remove_underscore spares tags of 3 characters or fewer (^_^, x_y)', () => {
    assert.deepEqual(run({ remove_underscore: true }), ['1girl', 'long hair', '^_^', 'x_y', 'hatsune miku', 'kirisame marisa (touhou)']);
  });
  it('undesired_tags: split on the stripped separator, items stripped, matched after remove_underscore', () => {
    assert.deepEqual(run({ remove_underscore: true, undesired_tags: ' long hair ,hatsune miku,, ' }), ['1girl', '^_^', 'x_y', 'kirisame marisa (touhou)']);
    // the raw name no longer matches once underscores are removed
    assert.deepEqual(run({ remove_underscore: true, undesired_tags: 'long_hair' }).includes('long hair'), true);
  });
  it('character_tags_first puts each character tag at the front: the last found ends up first', () => {
    assert.deepEqual(run({ character_tags_first: true }), ['kirisame_marisa_(touhou)', 'hatsune_miku', '1girl', 'long_hair', '^_^', 'x_y']);
  });
  it('character_tag_expand: name_(series) → name, series (with the separator)', () => {
    assert.deepEqual(run({ character_tag_expand: true }).slice(-2), ['hatsune_miku', 'kirisame_marisa, touhou']);
    assert.deepEqual(run({ character_tag_expand: true, remove_underscore: true, caption_separator: '; ' }).slice(-1), ['kirisame marisa; touhou']);
  });
  it('always_first_tags: items are NOT stripped and the last listed ends up first', () => {
    assert.deepEqual(run({ always_first_tags: 'x_y,1girl' }).slice(0, 2), ['1girl', 'x_y']);
    // " 1girl" (with the space) is not a tag, so "1girl, x_y" only moves x_y
    assert.deepEqual(run({ always_first_tags: '1girl, x_y' }).slice(0, 2), ['1girl', 'long_hair']);
    assert.deepEqual(run({ always_first_tags: 'solo' }), run());
  });
  it('rating tags first or last (argmax of the first four outputs), unless undesired', () => {
    assert.deepEqual(run({ use_rating_tags: true })[0], 'sensitive');
    assert.deepEqual(run({ use_rating_tags_as_last_tag: true }).at(-1), 'sensitive');
    assert.deepEqual(run({ use_rating_tags: true, undesired_tags: 'sensitive' })[0], '1girl');
    const r = tagsFromScores(SCORES, prepareTags(TAGS, {}));
    assert.deepEqual(r.rating, { tag: 'sensitive', score: 0.7, kind: 'rating' });
    assert.ok(!r.tags.includes('sensitive'));
    // a tie goes to the first maximum, like numpy's argmax
    const tie = tagsFromScores([0.5, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0], prepareTags(TAGS, { use_rating_tags: true }));
    assert.equal(tie.tags[0], 'general');
    // always_first_tags comes after the rating is placed
    assert.deepEqual(run({ use_rating_tags: true, always_first_tags: 'x_y' }).slice(0, 2), ['x_y', 'sensitive']);
  });
  it('tag_replacement works as intended: first general, else character, else rating match; escapes \\, and \\;', () => {
    assert.deepEqual(run({ tag_replacement: '1girl,1woman;hatsune_miku,miku' }), ['1woman', 'long_hair', '^_^', 'x_y', 'miku', 'kirisame_marisa_(touhou)']);
    assert.deepEqual(run({ tag_replacement: 'sensitive,safe', use_rating_tags: true })[0], 'safe');
    assert.deepEqual(run({ tag_replacement: 'x_y,a\\,b\\;c' })[3], 'a,b;c');
    // matched after remove_underscore and after character_tag_expand
    assert.deepEqual(run({ remove_underscore: true, tag_replacement: 'long hair,hair' })[1], 'hair');
    assert.deepEqual(run({ character_tag_expand: true, tag_replacement: 'kirisame_marisa\\, touhou,marisa' }).at(-1), 'marisa');
    const p = parseTagReplacement('a,b;c;d,e,f');
    assert.deepEqual(p.pairs, [['a', 'b']]);
    assert.equal(p.errors.length, 2);
    assert.equal(prepareTags(TAGS, { tag_replacement: 'oops' }).warnings.length, 1);
  });
  it('caption_separator joins the tags; the file ends with a newline', () => {
    assert.equal(captionText(['a', 'b'], undefined, {}), 'a, b\n');
    assert.equal(captionText(['a', 'b'], undefined, { caption_separator: ' | ' }), 'a | b\n');
    assert.equal(captionText(['a', 'b'], 'old\n', {}), 'a, b\n', 'overwrite by default');
  });
  it('append_tags: existing tags first, then new ones not already there (existing duplicates kept)', () => {
    assert.equal(captionText(['1girl', 'solo', 'tk'], 'tk,  1girl , tk\n\n', { append_tags: true }), 'tk, 1girl, tk, solo\n');
    assert.equal(captionText(['a'], '', { append_tags: true }), 'a\n');
    assert.equal(captionText(['a', 'b'], 'b | c\n', { append_tags: true, caption_separator: ' | ' }), 'b | c | a\n');
    // the existing content is split on the separator across lines, as sd-scripts reads it whole
    assert.equal(captionText(['z'], 'a, b\nc\n', { append_tags: true }), 'a, b\nc, z\n');
  });
  it('caption file next to the image: splitext + caption_extension (default .txt)', () => {
    assert.equal(captionPathFor('/d/5_x/img.01.png'), '/d/5_x/img.01.txt');
    assert.equal(captionPathFor('/d/a.jpg', '.caption'), '/d/a.caption');
    assert.equal(captionPathFor('/d.x/.hidden'), '/d.x/.hidden.txt');
    assert.equal(captionPathFor('C:\\data\\b.webp', '.txt'), 'C:\\data\\b.txt');
  });
  it('counts tag frequency; tolerates short or odd score arrays', () => {
    assert.deepEqual([...tagFrequency([['a', 'b'], ['a']])], [['a', 2], ['b', 1]]);
    assert.deepEqual(tagsFromScores([0.9], prepareTags(TAGS)).tags, []);
    assert.deepEqual(tagsFromScores([0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], prepareTags(TAGS)).tags.length, 7);
    assert.deepEqual(prepareTags(TAGS, null as unknown as TaggerOptions).generalThreshold, 0.35);
    assert.deepEqual(prepareTags(TAGS, { thresh: Number.NaN }).generalThreshold, 0.35);
  });
  it('does not throw on bad input', () => {
    const p = prepareTags(undefined as never, undefined);
    assert.deepEqual([p.ratings, p.general, p.character], [[], [], []]);
    assert.deepEqual(tagsFromScores(undefined as never, p).tags, []);
    assert.equal(captionText(undefined as never, undefined, undefined), '\n');
    assert.equal(captionPathFor(undefined as never), '');
  });
});
