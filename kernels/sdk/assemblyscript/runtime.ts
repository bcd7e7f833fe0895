// SPDX-License-Identifier: Apache-2.0
// The runtime of an AssemblyScript triptych kernel, compiled in by
// `triptych kernel build` (asc --runtime): it gives the module the exports
// that wasm-ld gives a C kernel, so both languages go through the engine's
// same checks (node/lib/index.mjs, loadKernel), and it has no heap.
//  - __stack_pointer, __heap_base, __data_end: AssemblyScript's own. The
//    engine places the context above __heap_base and points
//    __stack_pointer at each worker's stack, as for C.
//  - TLS: none needed. A module-level `let` is a WebAssembly global, which
//    every instance (every worker) has its own copy of: what _Thread_local
//    is in C. So __tls_size is 0 and __wasm_init_tls does nothing.
//  - No heap: the memory above __heap_base holds the engine's context and
//    the workers' stacks. Anything that allocates (`new`, a string built at
//    run time, Array) reaches one of the functions below, and compiling it
//    fails with the reason; they are compiled only if reached.
// Guide: docs/wasm-kernels.md, "AssemblyScript kernels".

// @ts-ignore: decorator
@unsafe @global function __alloc(size: usize): usize { ERROR("a triptych kernel has no heap: see 'AssemblyScript kernels' in docs/wasm-kernels.md"); return size; }
// @ts-ignore: decorator
@unsafe @global function __realloc(ptr: usize, size: usize): usize { ERROR("a triptych kernel has no heap: see 'AssemblyScript kernels' in docs/wasm-kernels.md"); return ptr + size; }
// @ts-ignore: decorator
@unsafe @global function __free(ptr: usize): void { ERROR("a triptych kernel has no heap: see 'AssemblyScript kernels' in docs/wasm-kernels.md"); ptr; }
// @ts-ignore: decorator
@unsafe @global function __reset(): void { ERROR("a triptych kernel has no heap: see 'AssemblyScript kernels' in docs/wasm-kernels.md"); }
// @ts-ignore: decorator
@unsafe @global function __new(size: usize, id: u32): usize { ERROR("a triptych kernel has no heap: see 'AssemblyScript kernels' in docs/wasm-kernels.md"); return size + id; }
// @ts-ignore: decorator
@unsafe @global function __renew(ptr: usize, size: usize): usize { ERROR("a triptych kernel has no heap: see 'AssemblyScript kernels' in docs/wasm-kernels.md"); return ptr + size; }
// @ts-ignore: decorator
@unsafe @global function __collect(): void { ERROR("a triptych kernel has no heap: see 'AssemblyScript kernels' in docs/wasm-kernels.md"); }
// Reference bookkeeping the compiler may emit around static objects: no-ops
// without a collector.
// @ts-ignore: decorator
@unsafe @global function __link(parentPtr: usize, childPtr: usize, expectMultiple: bool): void { parentPtr; childPtr; expectMultiple; }
// @ts-ignore: decorator
@unsafe @global function __pin(ptr: usize): usize { return ptr; }
// @ts-ignore: decorator
@unsafe @global function __unpin(ptr: usize): void { ptr; }
// @ts-ignore: decorator
@unsafe @global function __visit(ptr: usize, cookie: u32): void { ptr; cookie; }

const tls_size: usize = 0;
const tls_align: usize = 1;
function wasm_init_tls(base: usize): void { base; }

export { __stack_pointer, __heap_base, __data_end };
export { tls_size as __tls_size, tls_align as __tls_align, wasm_init_tls as __wasm_init_tls };
