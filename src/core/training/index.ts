/**
 * The pure core of training runs (issue 5): what the task provider, the pseudoterminal, the status
 * bar, the run panel and `lwb tfevents` share. No `vscode` here.
 */
export * from './tfevents';
export * from './output';
export * from './command';
export * from './accelerate';
export * from './runs';
export * from './environment';
export * from './launch';
// run panel (issue 5 item 6)
export * from './chartMath';
export * from './runPanel';
export { crc32c, maskedCrc32c } from './crc32c';
export * from './sdScripts';
// training extras: problem matchers and "Test the LoRA"
export * from './problemMatchers';
export * from './testLora';
