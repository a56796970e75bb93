/**
 * Training extras (issue 5, items 1, 2 and 7): the "Create Accelerate Config…" form, the problem
 * matchers on training tasks (contributed in package.json, attached in features/training), and
 * "Test the LoRA" (task type loraWorkbench.testLora and its command).
 */
import * as vscode from 'vscode';
import { Commands } from '../../constants';
import type { TrainingFeature } from '../training';
import { createAccelerateConfig } from './accelerateForm';
import { registerTestLora, type TestLoraFeature } from './testLora';

export type { TestLoraFeature, LoraTestResult } from './testLora';

export function registerTrainingExtras(context: vscode.ExtensionContext, training: TrainingFeature): TestLoraFeature {
  context.subscriptions.push(vscode.commands.registerCommand(Commands.createAccelerateConfig, () => createAccelerateConfig()));
  return registerTestLora(context, training);
}
