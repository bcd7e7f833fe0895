// SPDX-License-Identifier: Apache-2.0
// Error classes with stable `code`s for the JS API (docs/node.md lists them).
// Native errors arrive as plain Errors with an ERR_TRIPTYCH_* code; wrap()
// turns those into TriptychError so callers can rely on `instanceof`.

export class TriptychError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'TriptychError';
    this.code = code;
  }
}

// Bad options passed to createEngine() or the CLI.
export class OptionError extends TriptychError {
  constructor(message) {
    super('ERR_TRIPTYCH_BAD_OPTION', message);
    this.name = 'OptionError';
  }
}

// A kernel that cannot be loaded: missing file, malformed WASM, missing
// exports, wrong ABI version, memory it cannot fit in.
export class KernelError extends TriptychError {
  constructor(code, message, options) {
    super(code, message, options);
    this.name = 'KernelError';
  }
}

export function wrap(err) {
  if (err instanceof TriptychError) return err;
  if (err && typeof err.code === 'string' && err.code.startsWith('ERR_TRIPTYCH_')) {
    return new TriptychError(err.code, err.message, { cause: err });
  }
  return err;
}
