/** Packages with native code that must never be loaded into the extension host at activation. */
export const NATIVE_PACKAGES = ['sharp', 'onnxruntime-node', 'onnxruntime-common', '@img/'] as const;

/** Files of our native packages currently in this process's module cache. */
export function loadedNativeModules(): string[] {
  const cache: Record<string, unknown> = typeof require !== 'undefined' && require.cache ? require.cache : {};
  return Object.keys(cache).filter((file) => {
    const f = file.split('\\').join('/');
    return NATIVE_PACKAGES.some((m) => f.includes(`/node_modules/${m}`));
  });
}
