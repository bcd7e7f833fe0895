# SPDX-License-Identifier: Apache-2.0
# triptych_add_wasm_kernel(<name> SOURCES a.c [b.cpp ...] [DEFINES X=1 ...]
#                          [MAX_MEMORY bytes] [STACK_BYTES bytes] [DEPENDS file ...]
#                          [WASM_OPT ON|OFF])
#
# Compiles C/C++ kernel sources to ${CMAKE_CURRENT_BINARY_DIR}/<name>.wasm
# (target <name>_wasm; its TRIPTYCH_WASM_FILE property holds the path): wasm32
# with simd128, atomics, bulk memory and mutable globals, importing one shared
# memory (the kernel's memory), linked with wasi-libc's math functions. The
# toolchain, the flags and the libc come from wasm-toolchain.json beside this
# file, which `triptych kernel build` reads too, so both build the same bytes.
# With WASM_OPT ON (default: the TRIPTYCH_WASM_OPT option, itself defaulting
# to the toolchain file's wasmOpt.byDefault) binaryen's wasm-opt runs after
# the link, as `triptych kernel build --opt` does: the npm package's, found in
# the checkout's node_modules/.bin or on PATH.
# Used in the checkout (include(kernels/sdk/TriptychWasm.cmake)) and installed
# (find_package(triptych), cmake/triptych-config.cmake.in, which sets
# TRIPTYCH_KERNEL_INCLUDE_DIR). Guide: docs/wasm-kernels.md, "Building".
include_guard(GLOBAL)

if(NOT TRIPTYCH_KERNEL_INCLUDE_DIR)
  set(TRIPTYCH_KERNEL_INCLUDE_DIR ${CMAKE_CURRENT_LIST_DIR})  # the checkout: the header is beside this file
endif()
set(_triptych_sdk_dir ${CMAKE_CURRENT_LIST_DIR})
set(TRIPTYCH_WASM_TOOLCHAIN_FILE ${CMAKE_CURRENT_LIST_DIR}/wasm-toolchain.json)
file(READ ${TRIPTYCH_WASM_TOOLCHAIN_FILE} _triptych_toolchain)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${TRIPTYCH_WASM_TOOLCHAIN_FILE})

# Sets <out> to the toolchain file's JSON value at <key> [<member> ...]: a
# list for an array, ON/OFF for a boolean.
function(_triptych_toolchain out)
  string(JSON kind TYPE "${_triptych_toolchain}" ${ARGN})
  if(NOT kind STREQUAL "ARRAY")
    string(JSON value GET "${_triptych_toolchain}" ${ARGN})
    set(${out} "${value}" PARENT_SCOPE)
    return()
  endif()
  string(JSON count LENGTH "${_triptych_toolchain}" ${ARGN})
  set(items "")
  if(count GREATER 0)
    math(EXPR last "${count} - 1")
    foreach(i RANGE ${last})
      string(JSON item GET "${_triptych_toolchain}" ${ARGN} ${i})
      list(APPEND items "${item}")
    endforeach()
  endif()
  set(${out} "${items}" PARENT_SCOPE)
endfunction()

# Sets <out> to the first of <candidates> where <probe> (a relative path, or
# "" for the candidate itself) exists, or fails naming what to install.
function(_triptych_first_existing out what probe)
  foreach(candidate IN LISTS ARGN)
    if(EXISTS "${candidate}/${probe}" OR (probe STREQUAL "" AND EXISTS "${candidate}"))
      set(${out} "${candidate}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  _triptych_toolchain(package libcPackage)
  message(FATAL_ERROR "triptych: ${what} not found (looked in: ${ARGN}); install the Debian package ${package}")
endfunction()

_triptych_toolchain(_triptych_compilers compilers)
_triptych_toolchain(_triptych_linkers linkers)
find_program(TRIPTYCH_WASM_CLANG NAMES ${_triptych_compilers} REQUIRED)
find_program(TRIPTYCH_WASM_LD NAMES ${_triptych_linkers} REQUIRED)
_triptych_toolchain(TRIPTYCH_WASM_CFLAGS compileFlags)
_triptych_toolchain(TRIPTYCH_WASM_LDFLAGS linkFlags)
_triptych_toolchain(_triptych_libc_include_dirs libcIncludeDirs)
_triptych_toolchain(_triptych_libc_archives libcArchives)
_triptych_first_existing(TRIPTYCH_WASM_LIBC_INCLUDE_DIR "wasi-libc's math.h" math.h ${_triptych_libc_include_dirs})
_triptych_first_existing(TRIPTYCH_WASM_LIBC "wasi-libc's libc.a" "" ${_triptych_libc_archives})
_triptych_toolchain(TRIPTYCH_WASM_MAX_MEMORY maxMemoryBytes)
_triptych_toolchain(TRIPTYCH_WASM_STACK_BYTES stackBytes)
_triptych_toolchain(_triptych_wasm_opt_by_default wasmOpt byDefault)
_triptych_toolchain(TRIPTYCH_WASM_OPT_FLAGS wasmOpt flags)
option(TRIPTYCH_WASM_OPT "Run binaryen's wasm-opt after linking each WASM kernel (docs/wasm-kernels.md)" ${_triptych_wasm_opt_by_default})

function(triptych_add_wasm_kernel name)
  cmake_parse_arguments(K "" "MAX_MEMORY;STACK_BYTES;WASM_OPT" "SOURCES;DEFINES;DEPENDS" ${ARGN})
  if(NOT K_SOURCES)
    message(FATAL_ERROR "triptych_add_wasm_kernel(${name}): no SOURCES")
  endif()
  if(NOT K_MAX_MEMORY)
    set(K_MAX_MEMORY ${TRIPTYCH_WASM_MAX_MEMORY})
  endif()
  if(NOT K_STACK_BYTES)
    set(K_STACK_BYTES ${TRIPTYCH_WASM_STACK_BYTES})
  endif()
  if(NOT DEFINED K_WASM_OPT)
    set(K_WASM_OPT ${TRIPTYCH_WASM_OPT})
  endif()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${name}.wasm)
  set(obj_dir ${CMAKE_CURRENT_BINARY_DIR}/${name}.dir)
  set(linked ${out})
  if(K_WASM_OPT)
    set(linked ${obj_dir}/${name}.linked.wasm)
  endif()
  set(objects "")
  set(defines "")
  foreach(d IN LISTS K_DEFINES)
    list(APPEND defines -D${d})
  endforeach()
  foreach(src IN LISTS K_SOURCES)
    get_filename_component(abs ${src} ABSOLUTE)
    get_filename_component(stem ${src} NAME_WE)
    set(obj ${obj_dir}/${stem}.o)
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${obj_dir}
      COMMAND ${TRIPTYCH_WASM_CLANG} ${TRIPTYCH_WASM_CFLAGS} ${defines}
              -I${TRIPTYCH_KERNEL_INCLUDE_DIR} -isystem ${TRIPTYCH_WASM_LIBC_INCLUDE_DIR}
              -MD -MF ${obj}.d -c ${abs} -o ${obj}
      DEPENDS ${abs} ${TRIPTYCH_KERNEL_INCLUDE_DIR}/triptych_kernel.h ${K_DEPENDS}
      DEPFILE ${obj}.d
      COMMENT "wasm32: compiling ${src}" VERBATIM)
    list(APPEND objects ${obj})
  endforeach()
  add_custom_command(
    OUTPUT ${linked}
    COMMAND ${TRIPTYCH_WASM_LD} ${TRIPTYCH_WASM_LDFLAGS}
            --max-memory=${K_MAX_MEMORY} -z stack-size=${K_STACK_BYTES}
            ${objects} ${TRIPTYCH_WASM_LIBC} -o ${linked}
    DEPENDS ${objects}
    COMMENT "wasm32: linking ${name}.wasm" VERBATIM)
  if(K_WASM_OPT)
    find_program(TRIPTYCH_WASM_OPT_PROGRAM NAMES wasm-opt HINTS ${_triptych_sdk_dir}/../../node_modules/.bin)
    if(NOT TRIPTYCH_WASM_OPT_PROGRAM)
      message(FATAL_ERROR "triptych_add_wasm_kernel(${name}): WASM_OPT is on but wasm-opt was not found; "
                          "run 'npm ci' in the triptych checkout (npm package binaryen) or set TRIPTYCH_WASM_OPT_PROGRAM")
    endif()
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${TRIPTYCH_WASM_OPT_PROGRAM} ${TRIPTYCH_WASM_OPT_FLAGS} ${linked} -o ${out}
      DEPENDS ${linked}
      COMMENT "wasm32: optimising ${name}.wasm (wasm-opt)" VERBATIM)
  endif()
  add_custom_target(${name}_wasm ALL DEPENDS ${out})
  set_target_properties(${name}_wasm PROPERTIES TRIPTYCH_WASM_FILE ${out})
endfunction()
