/**
 * kohya config IntelliSense through VS Code's own provider commands, on the sample workspace.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

const EXTENSION_ID = 'lora-workbench.lora-workbench';

function workspaceUri(rel: string): vscode.Uri {
  const wf = vscode.workspace.workspaceFolders?.[0];
  assert.ok(wf, 'a workspace is open');
  return vscode.Uri.joinPath(wf.uri, rel);
}

async function until<T>(fn: () => T | undefined, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function positionOf(doc: vscode.TextDocument, needle: string, delta = 0): vscode.Position {
  const i = doc.getText().indexOf(needle);
  assert.ok(i >= 0, `${needle} is in ${doc.fileName}`);
  return doc.positionAt(i + delta);
}

/** Untitled TOML documents made by these tests; discarded at the end. */
const untitledDocs: vscode.TextDocument[] = [];
async function untitledToml(content: string): Promise<vscode.TextDocument> {
  const doc = await vscode.workspace.openTextDocument({ language: 'toml', content });
  untitledDocs.push(doc);
  return doc;
}

describe('kohya config IntelliSense', () => {
  before(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
  });

  after(async () => {
    // unsaved untitled documents would be backed up (hot exit) and come back in every later
    // window of this workspace: show each and revert it, which closes it without a save prompt
    for (const doc of untitledDocs.splice(0)) {
      if (doc.isClosed) continue;
      await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    }
  });

  it('reports the placeholder model path of the sample config', async () => {
    const doc = await vscode.workspace.openTextDocument(workspaceUri('config/config_file.toml'));
    assert.equal(doc.languageId, 'toml');
    const diags = await until(() => {
      const d = vscode.languages.getDiagnostics(doc.uri).filter((x) => x.source === 'LoRA Workbench');
      return d.length ? d : undefined;
    }, 'diagnostics');
    const placeholder = diags.find((d) => d.code === 'placeholder-path');
    assert.ok(placeholder, diags.map((d) => `${d.code}: ${d.message}`).join('\n'));
    assert.equal(placeholder.range.start.line, positionOf(doc, 'pretrained_model_name_or_path').line);
    // the dataset folders and the sample-prompt file it names exist: no missing-path errors
    assert.deepEqual(diags.filter((d) => d.severity === vscode.DiagnosticSeverity.Error).map((d) => d.message), []);
  });

  it('offers a quick fix that renames a misspelt option', async () => {
    const doc = await untitledToml('[training_arguments]\nnetwrk_dim = 8\noutput_name = "x"\n');
    const diag = await until(
      () => vscode.languages.getDiagnostics(doc.uri).find((d) => d.code === 'unknown-option'),
      'the unknown-option diagnostic',
    );
    assert.match(diag.message, /network_dim/);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, diag.range);
    const fix = actions.find((a) => a.title === 'Rename to network_dim');
    assert.ok(fix?.edit, actions.map((a) => a.title).join(', '));
    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    assert.match(doc.getText(), /^network_dim = 8$/m);
    await until(() => (vscode.languages.getDiagnostics(doc.uri).some((d) => d.code === 'unknown-option') ? undefined : true), 'the diagnostic to go');
  });

  it('completes option values and keys', async () => {
    const doc = await untitledToml('[optimizer_arguments]\noptimizer_type = \nlr_sched');
    const values = await vscode.commands.executeCommand<vscode.CompletionList>(
      'vscode.executeCompletionItemProvider', doc.uri, new vscode.Position(1, 17),
    );
    const labels = values.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
    assert.ok(labels.includes('"AdamW8bit"'), labels.slice(0, 20).join(', '));
    const keys = await vscode.commands.executeCommand<vscode.CompletionList>(
      'vscode.executeCompletionItemProvider', doc.uri, new vscode.Position(2, 8),
    );
    const keyLabels = keys.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
    assert.ok(keyLabels.includes('lr_scheduler'), keyLabels.slice(0, 20).join(', '));
  });

  it('explains an option on hover', async () => {
    const doc = await vscode.workspace.openTextDocument(workspaceUri('config/config_file.toml'));
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, positionOf(doc, 'network_alpha', 3));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text, /network_alpha/);
    assert.match(text, /default/i);
  });

  it('lists sections and keys in the outline, and goes to the files a config names', async () => {
    const doc = await vscode.workspace.openTextDocument(workspaceUri('config/config_file.toml'));
    const symbols = await vscode.commands.executeCommand<vscode.DocumentSymbol[]>('vscode.executeDocumentSymbolProvider', doc.uri);
    const sections = symbols.map((s) => s.name);
    assert.ok(sections.includes('training_arguments'), sections.join(', '));
    const training = symbols.find((s) => s.name === 'training_arguments');
    assert.ok(training?.children.some((c) => c.name === 'output_name'));
    const defs = await vscode.commands.executeCommand<Array<vscode.Location | vscode.LocationLink>>(
      'vscode.executeDefinitionProvider', doc.uri, positionOf(doc, 'config/sample_prompt.toml', 3),
    );
    const target = defs.map((d) => ('targetUri' in d ? d.targetUri : d.uri).fsPath);
    assert.deepEqual(target, [workspaceUri('config/sample_prompt.toml').fsPath]);
  });

  it('leaves unrelated TOML files alone', async () => {
    const doc = await untitledToml('[tool.poetry]\nname = "x"\nversion = "1"\n');
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(vscode.languages.getDiagnostics(doc.uri).filter((d) => d.source === 'LoRA Workbench'), []);
  });

  it('creates a LoCon training config and a dataset config for a dataset', async () => {
    const ext = vscode.extensions.getExtension<{ datasets: { refresh(): Promise<void>; current: { groups: Array<{ path: string; kind: string }> } } }>(EXTENSION_ID);
    const api = ext?.exports;
    assert.ok(api);
    await api.datasets.refresh();
    const group = api.datasets.current.groups.find((g) => g.path.endsWith('img_train'));
    assert.ok(group);
    const target = workspaceUri('tmp_new_config/tk_locon.toml');
    try {
      const made = await vscode.commands.executeCommand<vscode.Uri>(
        'loraWorkbench.newTrainingConfig', { type: 'group', group }, { network: 'locon', target },
      );
      assert.equal(made?.fsPath, target.fsPath);
      const training = Buffer.from(await vscode.workspace.fs.readFile(target)).toString('utf8');
      assert.match(training, /network_args = \[.*"conv_dim=32".*\]/);
      assert.match(training, /dataset_config = "tmp_new_config\/img_train_dataset\.toml"/);
      const dataset = Buffer.from(await vscode.workspace.fs.readFile(workspaceUri('tmp_new_config/img_train_dataset.toml'))).toString('utf8');
      assert.match(dataset, /image_dir = "dataset\/img_train\/5_tk girl"/);
      assert.match(dataset, /num_repeats = 5/);
      assert.match(dataset, /class_tokens = "tk girl"/);
      assert.match(dataset, /caption_extension = "\.txt"/);
      // what it wrote checks clean apart from the placeholder model path
      const doc = await vscode.workspace.openTextDocument(target);
      const diags = await until(() => {
        const d = vscode.languages.getDiagnostics(doc.uri).filter((x) => x.source === 'LoRA Workbench');
        return d.length ? d : undefined;
      }, 'diagnostics of the new config');
      assert.deepEqual(diags.filter((d) => d.severity === vscode.DiagnosticSeverity.Error).map((d) => d.message), []);
    } finally {
      await vscode.workspace.fs.delete(workspaceUri('tmp_new_config'), { recursive: true });
    }
  });
});
