// SPDX-License-Identifier: Apache-2.0
// Module hooks (registered by fake-electron-register.mjs): resolves the
// bare specifier `electron` to fake-electron-module.mjs, so that
// examples/electron/main.mjs runs under plain Node against the recording
// fake. Loader thread only.
export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'electron') return { url: new URL('./fake-electron-module.mjs', import.meta.url).href, shortCircuit: true };
  return nextResolve(specifier, context);
}
