import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { completionsAt, hoverAt, documentSymbols, pathAt, type CompletionItem } from '../../src/core/config';
import { fixture, fakeFs } from './configHelpers';

/** Text with a '|' cursor marker → [text, offset]. */
function at(marked: string): [string, number] {
  const i = marked.indexOf('|');
  return [marked.slice(0, i) + marked.slice(i + 1), i];
}

function labels(items: CompletionItem[]): string[] {
  return items.map((i) => i.label);
}

describe('config: completion', () => {
  it('offers the seed sections for a header', () => {
    const [text, off] = at('[tra|]\n');
    const items = completionsAt('training', text, off);
    assert.equal(items.length, 10);
    assert.equal(items[0]?.label, 'sdxl_arguments');
    const t = items.find((i) => i.label === 'training_arguments');
    assert.equal(t?.insertText, 'training_arguments');
    assert.deepEqual(t?.replaceOffsets, [1, 4]);
    const [t2, o2] = at('[|\n');
    assert.equal(completionsAt('training', t2, o2)[0]?.insertText, 'sdxl_arguments]');
  });
  it('offers options as keys, those of the current section first, not the ones already set', () => {
    const [text, off] = at('[optimizer_arguments]\nlearning_rate = 1e-4\nlr_|\n');
    const items = completionsAt('training', text, off);
    assert.ok(!labels(items).includes('learning_rate'));
    const sched = items.find((i) => i.label === 'lr_scheduler');
    assert.equal(sched?.sortText, '0lr_scheduler');
    assert.equal(items.find((i) => i.label === 'resolution')?.sortText, '1resolution');
    assert.equal(items.find((i) => i.label === 'resolution')?.insertText, 'resolution = "${1:1024,1024}"');
    assert.equal(items.find((i) => i.label === 'mixed_precision')?.insertText, 'mixed_precision = "${1|no,fp16,bf16|}"');
    assert.equal(items.find((i) => i.label === 'xformers')?.insertText, 'xformers = ${1|true,false|}');
    assert.equal(items.find((i) => i.label === 'network_args')?.insertText, 'network_args = ["${1}"]');
    assert.deepEqual(sched?.replaceOffsets, [43, 46]);
    assert.match(sched?.documentation ?? '', /^\*\*`lr_scheduler`\*\* · string · default: "constant"/);
  });
  it('offers the LoRA / LoCon / LoHa presets', () => {
    const [text, off] = at('[additional_network_arguments]\n|\n');
    const presets = completionsAt('training', text, off).filter((i) => i.kind === 'snippet');
    assert.deepEqual(labels(presets), ['LoRA preset', 'LoCon preset', 'LoHa preset']);
    assert.equal(presets[1]?.insertText, 'network_module = "networks.lora"\nnetwork_dim = ${1:32}\nnetwork_alpha = ${2:16}\nnetwork_args = ["conv_dim=32", "conv_alpha=16"]');
    assert.match(presets[2]?.insertText ?? '', /network_module = "lycoris.kohya"[\s\S]*"algo=loha"/);
  });
  it('offers values: choices, known values, booleans', () => {
    const [t1, o1] = at('mixed_precision = |');
    assert.deepEqual(completionsAt('training', t1, o1).map((i) => i.insertText), ['"no"', '"fp16"', '"bf16"']);
    const [t2, o2] = at('network_module = "|"');
    const mods = completionsAt('training', t2, o2);
    assert.deepEqual(mods.map((i) => i.insertText), ['networks.lora', 'networks.dylora', 'lycoris.kohya']);
    assert.deepEqual(mods[0]?.replaceOffsets, [18, 18]);
    const [t3, o3] = at('cache_latents = t|');
    assert.deepEqual(labels(completionsAt('training', t3, o3)), ['true', 'false']);
    const [t4, o4] = at('optimizer_type = "Ada|"\n');
    const opts = completionsAt('training', t4, o4);
    assert.ok(labels(opts).includes('"AdaFactor"'));
    assert.deepEqual(opts[0]?.replaceOffsets, [18, 21]);
    const [t5, o5] = at('sample_sampler = |');
    assert.ok(labels(completionsAt('training', t5, o5)).includes('"euler_a"'));
  });
  it('offers network_args entries for the chosen module, also in a multi-line array', () => {
    const [t1, o1] = at('network_module = "networks.lora"\nnetwork_args = [|]\n');
    const items = completionsAt('training', t1, o1);
    assert.ok(labels(items).includes('conv_dim='));
    assert.ok(labels(items).includes('loraplus_lr_ratio='));
    assert.ok(!labels(items).includes('algo='));
    assert.equal(items.find((i) => i.label === 'conv_dim=')?.insertText, '"conv_dim=${1:4}"');
    const [t2, o2] = at('network_module = "lycoris.kohya"\nnetwork_args = [\n  "conv_dim=4",\n  "|"\n]\n');
    const lyco = completionsAt('training', t2, o2);
    assert.equal(lyco.find((i) => i.label === 'algo=')?.insertText, 'algo=${1|locon,loha,lokr,ia3,full,dylora,diag-oft,boft|}');
  });
  it('completes paths through the file system', () => {
    const fs = fakeFs(['/w/img/10_tk/', '/w/img/notes.md', '/w/models/base.safetensors']);
    const [t1, o1] = at('train_data_dir = "img/|"\n');
    const dirs = completionsAt('training', t1, o1, { fs, baseDir: '/w' });
    assert.deepEqual(dirs.map((i) => [i.label, i.insertText, i.replaceOffsets]), [['10_tk/', '10_tk', [22, 22]]]);
    const [t2, o2] = at('pretrained_model_name_or_path = "models/ba|"\n');
    assert.deepEqual(labels(completionsAt('training', t2, o2, { fs, baseDir: '/w' })), ['base.safetensors']);
  });
  it('dataset config: keys valid at each level', () => {
    const [t1, o1] = at('[general]\n|\n');
    const general = labels(completionsAt('dataset', t1, o1));
    assert.ok(general.includes('caption_extension') && general.includes('resolution') && !general.includes('image_dir'));
    const [t2, o2] = at('[[datasets]]\nresolution = 1024\n[[datasets.subsets]]\n|\n');
    const subset = labels(completionsAt('dataset', t2, o2));
    assert.equal(subset[0], 'image_dir');
    assert.ok(subset.includes('is_reg') && subset.includes('class_tokens') && !subset.includes('resolution') && !subset.includes('metadata_file'));
    const [t3, o3] = at('[[datasets]]\n|\n[[datasets.subsets]]\nmetadata_file = "m.json"\n');
    const ft = labels(completionsAt('dataset', t3, o3));
    assert.ok(ft.includes('resolution') && !ft.includes('caption_extension') && !ft.includes('class_tokens'));
    const [t4, o4] = at('[[|\n');
    assert.deepEqual(completionsAt('dataset', t4, o4).map((i) => i.insertText), ['datasets]]', 'datasets.subsets]]']);
  });
  it('sample prompts: keys in TOML and options in .txt', () => {
    const [t1, o1] = at('[prompt]\n|\n');
    assert.ok(labels(completionsAt('samplePrompts', t1, o1)).includes('negative_prompt'));
    const [t2, o2] = at('1girl --|');
    const opts = completionsAt('samplePrompts', t2, o2, { fileName: 'p.txt' });
    assert.deepEqual(labels(opts).slice(0, 4), ['--n', '--w', '--h', '--d']);
    assert.equal(opts[0]?.insertText, 'n ');
  });
  it('never throws on any offset of a real config', () => {
    const text = fixture('seed_XL_LoRA_config_file.toml');
    for (let o = 0; o <= text.length; o += 7) {
      completionsAt('training', text, o);
      hoverAt('training', text, o);
    }
    assert.deepEqual(completionsAt('training', text, -5).length >= 0, true);
    assert.deepEqual(completionsAt('training', text, text.length + 100).length >= 0, true);
  });
});

describe('config: hover, outline, paths', () => {
  it('hovers over an option key with type, default, quirks and related options', () => {
    const text = fixture('seed_XL_LoRA_config_file.toml');
    const off = text.indexOf('lr_warmup_steps') + 3;
    const h = hoverAt('training', text, off);
    assert.ok(h);
    assert.equal(text.slice(...h.offsets), 'lr_warmup_steps');
    assert.deepEqual(h.range, { start: { line: 56, character: 0 }, end: { line: 56, character: 15 } });
    assert.match(h.markdown, /^\*\*`lr_warmup_steps`\*\* · integer \(steps\) or float < 1 \(fraction\) · default: 0/);
    assert.match(h.markdown, /`100\.0` is not 100 steps/);
    assert.match(h.markdown, /Related: `lr_scheduler`, `max_train_steps`/);
    const unknown = hoverAt('training', 'epoch = 30\n', 1);
    assert.match(unknown?.markdown ?? '', /not an option of sdxl_train_network\.py/);
    const sec = hoverAt('training', text, 3);
    assert.match(sec?.markdown ?? '', /sd-scripts ignores section names/);
    const arg = hoverAt('training', text, text.indexOf('"conv_dim=32"') + 3);
    assert.match(arg?.markdown ?? '', /network_args: `conv_dim`/);
  });
  it('hovers in dataset configs and prompt files', () => {
    const text = fixture('dataset_dreambooth.toml');
    const h = hoverAt('dataset', text, text.indexOf('class_tokens') + 1);
    assert.match(h?.markdown ?? '', /^\*\*`class_tokens`\*\* · string/);
    assert.match(h?.markdown ?? '', /Not in fine-tuning datasets/);
    const p = hoverAt('samplePrompts', 'a cat --w 1024', 9, { fileName: 'p.txt' });
    assert.match(p?.markdown ?? '', /`--w`\*\*: width in pixels/);
  });
  it('outlines sections and keys', () => {
    const syms = documentSymbols(fixture('dataset_with_reg.toml'));
    assert.deepEqual(syms.map((s) => [s.name, s.detail, s.children.length]), [
      ['general', '', 1],
      ['datasets[0]', '', 2],
      ['datasets[0].subsets[0]', "'./images'", 3],
      ['datasets[0].subsets[1]', "'../reg_images'", 4],
    ]);
    assert.deepEqual(syms[0]?.children[0]?.selectionRange, { start: { line: 1, character: 0 }, end: { line: 1, character: 13 } });
  });
  it('finds the path under the cursor', () => {
    const text = fixture('sdxl_prodigy_lora.toml');
    const p = pathAt(text, text.indexOf('D:/model_output/sample') + 4);
    assert.equal(p?.option, 'sample_prompts');
    assert.equal(p?.path, 'D:/model_output/sample/prompt.txt');
    assert.equal(text.slice(...(p?.offsets ?? [0, 0])), '"D:/model_output/sample/prompt.txt"');
    assert.equal(pathAt(text, text.indexOf('euler_a')), undefined);
    const ds = fixture('dataset_with_reg.toml');
    assert.equal(pathAt(ds, ds.indexOf('../reg_images'), 'dataset')?.path, '../reg_images');
  });
});

describe('config: completion when the key already has a value', () => {
  it('replaces only the name', () => {
    const [text, off] = at('lr_sch| = "cosine"\n');
    const item = completionsAt('training', text, off).find((i) => i.label === 'lr_scheduler');
    assert.equal(item?.insertText, 'lr_scheduler');
    assert.equal(item?.snippet, false);
    assert.deepEqual(item?.replaceOffsets, [0, 6]);
    assert.ok(!completionsAt('training', text, off).some((i) => i.kind === 'snippet'));
  });
});
