// SPDX-License-Identifier: Apache-2.0
// `triptych kernel build|new`: a kernel author's path without CMake. `build`
// runs the SDK's toolchain with the SDK's flags, both read from
// kernels/sdk/wasm-toolchain.json, the file triptych_add_wasm_kernel reads
// too, so the two give the same bytes: clang and wasm-ld for C, the npm
// package's AssemblyScript compiler for .ts, then binaryen's wasm-opt for
// either when asked (--opt). `new` writes a small working kernel project
// (C or AssemblyScript) from kernels/templates/. Runs on the CLI's main
// thread, blocking (it waits for the compiler). Guide: docs/wasm-kernels.md.
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync,
  statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { basename, delimiter, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TriptychError } from './errors.mjs';

const sdkDir = fileURLToPath(new URL('../../kernels/sdk/', import.meta.url));
const templatesDir = fileURLToPath(new URL('../../kernels/templates/', import.meta.url));
const require = createRequire(import.meta.url);
const WASM_PAGE = 65536;

const HELP = `usage: triptych kernel <build|new> [options]

  build FILE.c [FILE.c ...] [-o OUT.wasm] [-D NAME[=VALUE] ...] [--opt|--no-opt] [--verbose]
  build FILE.ts [FILE.ts ...] [-o OUT.wasm] [--opt|--no-opt] [--verbose]
                 compile C (or C++) or AssemblyScript kernel sources to one .wasm
                 with the SDK's toolchain and flags (for C, the same as
                 triptych_add_wasm_kernel); OUT defaults to <first source's
                 name>.wasm in this folder; --opt runs binaryen's wasm-opt on
                 the result (default: ${readToolchain().wasmOpt.byDefault ? '--opt' : '--no-opt'}); --verbose prints each command
                 before running it
  new NAME [--lang c|as] [--dir DIR]
                 write a small working kernel project in DIR/NAME (default ./NAME):
                 C: NAME.c, CMakeLists.txt (find_package(triptych)) and README.md;
                 as (AssemblyScript): NAME.ts and README.md

Then: triptych run --kernel OUT.wasm. Guide: docs/wasm-kernels.md.
`;

const C_SOURCES = new Set(['.c', '.cc', '.cpp', '.cxx']);
const ASSEMBLYSCRIPT_SOURCES = new Set(['.ts']);
// The template folder (kernels/templates/<lang>) and its source's extension.
const LANGUAGES = { c: '.c', as: '.ts' };

function usage(message) {
  const err = new Error(`${message}\n\n${HELP}`);
  err.usage = true;
  return err;
}

function parse(args, options) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw usage(err.message);
  }
}

// The SDK's toolchain description (kernels/sdk/wasm-toolchain.json).
export function readToolchain() {
  return JSON.parse(readFileSync(join(sdkDir, 'wasm-toolchain.json'), 'utf8'));
}

function onPath(program) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here: look in the next folder
    }
  }
  return null;
}

function firstFound(what, candidates, found, toolchain) {
  for (const c of candidates) {
    const hit = found(c);
    if (hit) return hit;
  }
  throw new TriptychError('ERR_TRIPTYCH_KERNEL_TOOLCHAIN',
    `${what} not found (looked for ${candidates.join(', ')}); install the Debian packages clang-14 lld-14 ${toolchain.libcPackage}`);
}

// The resolved toolchain: programs on PATH, wasi-libc's headers and archive.
export function locateToolchain(toolchain = readToolchain()) {
  return {
    compiler: firstFound('a wasm32 C compiler', toolchain.compilers, onPath, toolchain),
    linker: firstFound('a wasm32 linker', toolchain.linkers, onPath, toolchain),
    libcInclude: firstFound("wasi-libc's headers", toolchain.libcIncludeDirs, (d) => (existsSync(join(d, 'math.h')) ? d : null), toolchain),
    libc: firstFound("wasi-libc's libc.a", toolchain.libcArchives, (f) => (existsSync(f) ? f : null), toolchain),
  };
}

// The path of an npm package's program (its package.json "bin" entry): the
// copy this triptych package depends on (package.json), run with this node.
export function npmProgram(pkg, program) {
  let manifest;
  try {
    manifest = require.resolve(`${pkg}/package.json`);
  } catch {
    throw new TriptychError('ERR_TRIPTYCH_KERNEL_TOOLCHAIN',
      `${program} not found: the npm package ${pkg} is not installed; run 'npm ci' in the triptych checkout`);
  }
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8'));
  return join(dirname(manifest), typeof bin === 'string' ? bin : bin[program]);
}

const quote = (arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`);

function run(argv, verbose, what) {
  if (verbose) process.stdout.write(`${argv.map(quote).join(' ')}\n`);
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) throw new TriptychError('ERR_TRIPTYCH_KERNEL_BUILD', `${what}: cannot run ${argv[0]}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new TriptychError('ERR_TRIPTYCH_KERNEL_BUILD', `${what} failed (${basename(argv[0])} exited with ${r.status ?? r.signal})`);
  }
}

// Compiles and links C sources into `output`.
function buildC(sources, defines, output, toolchain, verbose, scratchDir) {
  const tools = locateToolchain(toolchain);
  const objects = sources.map((src, i) => {
    const obj = join(scratchDir, `${i}-${basename(src, extname(src))}.o`);
    run([tools.compiler, ...toolchain.compileFlags, ...defines.map((d) => `-D${d}`),
      `-I${sdkDir.replace(/\/$/, '')}`, '-isystem', tools.libcInclude, '-c', resolve(src), '-o', obj], verbose, `compiling ${src}`);
    return obj;
  });
  run([tools.linker, ...toolchain.linkFlags, `--max-memory=${toolchain.maxMemoryBytes}`, '-z', `stack-size=${toolchain.stackBytes}`,
    ...objects, tools.libc, '-o', output], verbose, `linking ${basename(output)}`);
}

// Compiles AssemblyScript sources (every one an entry file) into `output`,
// with the SDK's runtime (the exports the engine checks, no heap) and its
// `triptych-kernel` module on the import path.
function buildAssemblyScript(sources, output, toolchain, verbose) {
  const as = toolchain.assemblyscript;
  run([process.execPath, npmProgram(as.package, as.program), ...sources.map((src) => resolve(src)), ...as.flags,
    '--maximumMemory', String(toolchain.maxMemoryBytes / WASM_PAGE), '--stackSize', String(toolchain.stackBytes),
    '--runtime', join(sdkDir, as.runtime), '--path', join(sdkDir, as.modulePath), '--outFile', output],
  verbose, `compiling ${sources.join(' ')}`);
}

// binaryen's wasm-opt, the post-link step for either language.
function optimise(input, output, toolchain, verbose) {
  const opt = toolchain.wasmOpt;
  run([process.execPath, npmProgram(opt.package, opt.program), ...opt.flags, input, '-o', output], verbose, `optimising ${basename(output)}`);
}

function kernelBuild(args) {
  const { values, positionals } = parse(args, {
    output: { type: 'string', short: 'o' }, define: { type: 'string', short: 'D', multiple: true },
    opt: { type: 'boolean' }, 'no-opt': { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' },
  });
  if (values.help) { process.stdout.write(HELP); return 0; }
  if (positionals.length === 0) throw usage('build: no source file');
  if (values.opt && values['no-opt']) throw usage('build: --opt and --no-opt contradict each other');
  const defines = values.define ?? [];
  for (const d of defines) {
    if (!/^[A-Za-z_]\w*(=.*)?$/.test(d)) throw usage(`build: -D expects NAME or NAME=VALUE, got '${d}'`);
  }
  const languages = new Set();
  for (const src of positionals) {
    const ext = extname(src).toLowerCase();
    if (ASSEMBLYSCRIPT_SOURCES.has(ext)) languages.add('AssemblyScript');
    else if (C_SOURCES.has(ext)) languages.add('C');
    else throw usage(`build ${src}: expected a C or C++ source (${[...C_SOURCES].join(' ')}) or AssemblyScript (.ts)`);
    if (!existsSync(src)) throw new TriptychError('ERR_TRIPTYCH_KERNEL_BUILD', `build: cannot read ${src}: no such file`);
  }
  if (languages.size > 1) throw usage('build: one kernel is C or AssemblyScript, not both');
  const assemblyScript = languages.has('AssemblyScript');
  if (assemblyScript && defines.length) throw usage('build: -D is for C sources; AssemblyScript has no preprocessor (use a const)');
  const output = resolve(values.output ?? `${basename(positionals[0], extname(positionals[0]))}.wasm`);
  const toolchain = readToolchain();
  const optimised = values.opt ?? (values['no-opt'] ? false : toolchain.wasmOpt.byDefault);
  const scratchDir = mkdtempSync(join(tmpdir(), 'triptych-kernel-'));
  try {
    const built = optimised ? join(scratchDir, 'built.wasm') : output;
    if (assemblyScript) buildAssemblyScript(positionals, built, toolchain, values.verbose);
    else buildC(positionals, defines, built, toolchain, values.verbose, scratchDir);
    if (optimised) optimise(built, output, toolchain, values.verbose);
  } finally {
    rmSync(scratchDir, { recursive: true, force: true });
  }
  process.stdout.write(`wrote ${output}\n`);
  return 0;
}

function kernelNew(args) {
  const { values, positionals } = parse(args, { lang: { type: 'string' }, dir: { type: 'string' } });
  if (values.help) { process.stdout.write(HELP); return 0; }
  if (positionals.length !== 1) throw usage('new: give exactly one NAME');
  const [name] = positionals;
  // NAME becomes a file name, a C-adjacent identifier and a CMake target.
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) {
    throw usage(`new: NAME must be a letter or _ then letters, digits or _ (at most 64), got '${name}'`);
  }
  const lang = values.lang ?? 'c';
  if (!Object.hasOwn(LANGUAGES, lang)) throw usage(`new: --lang must be c or as (AssemblyScript), got '${lang}'`);
  const target = resolve(values.dir ?? '.', name);
  if (existsSync(target)) throw new TriptychError('ERR_TRIPTYCH_KERNEL_EXISTS', `new: ${target} already exists; nothing written`);
  const template = join(templatesDir, lang);
  const source = `${name}${LANGUAGES[lang]}`;
  mkdirSync(target, { recursive: true });
  const written = [];
  for (const file of readdirSync(template).sort()) {
    const text = readFileSync(join(template, file), 'utf8').replaceAll('@NAME@', name);
    const as = file === `kernel${LANGUAGES[lang]}` ? source : file;
    writeFileSync(join(target, as), text);
    if (as === source) written.unshift(as); else written.push(as);
  }
  process.stdout.write(`wrote ${target}: ${written.join(', ')}\n` +
    `next: cd ${quote(target)} && triptych kernel build ${source} && triptych run --kernel ${name}.wasm\n`);
  return 0;
}

// `triptych kernel ...`: returns the exit code; throws an Error with
// `.usage = true` for bad usage (exit 2) and a TriptychError otherwise (exit 1).
export async function cmdKernel(args) {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h' || sub === 'help') { process.stdout.write(HELP); return 0; }
  if (sub === 'build') return kernelBuild(rest);
  if (sub === 'new') return kernelNew(rest);
  throw usage(sub === undefined ? 'which one: build or new?' : `unknown subcommand '${sub}'`);
}
