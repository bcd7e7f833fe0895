# SPDX-License-Identifier: Apache-2.0
# triptych_add_wasm_kernel(<name> SOURCES a.c [b.cpp ...] [DEFINES X=1 ...]
#                          [MAX_MEMORY bytes] [STACK_BYTES bytes] [DEPENDS file ...])
#
# Compiles C/C++ kernel sources to ${CMAKE_CURRENT_BINARY_DIR}/<name>.wasm
# (target <name>_wasm; its TRIPTYCH_WASM_FILE property holds the path): wasm32
# with simd128, atomics, bulk memory and mutable globals, importing one shared
# memory (the kernel's memory), linked with wasi-libc's math functions. The
# toolchain, the flags and the libc come from wasm-toolchain.json beside this
# file, which `triptych kernel build` reads too, so both build the same bytes.
# Used in the checkout (include(kernels/sdk/TriptychWasm.cmake)) and installed
# (find_package(triptych), cmake/triptych-config.cmake.in, which sets
# TRIPTYCH_KERNEL_INCLUDE_DIR). Guide: docs/wasm-kernels.md, "Building".
include_guard(GLOBAL)

if(NOT TRIPTYCH_KERNEL_INCLUDE_DIR)
  set(TRIPTYCH_KERNEL_INCLUDE_DIR ${CMAKE_CURRENT_LIST_DIR})  # the checkout: the header is beside this file
endif()
set(TRIPTYCH_WASM_TOOLCHAIN_FILE ${CMAKE_CURRENT_LIST_DIR}/wasm-toolchain.json)
file(READ ${TRIPTYCH_WASM_TOOLCHAIN_FILE} _triptych_toolchain)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${TRIPTYCH_WASM_TOOLCHAIN_FILE})

# Sets <out> to the toolchain file's JSON value <key>: a list for an array.
function(_triptych_toolchain out key)
  string(JSON kind TYPE "${_triptych_toolchain}" ${key})
  if(NOT kind STREQUAL "ARRAY")
    string(JSON value GET "${_triptych_toolchain}" ${key})
    set(${out} "${value}" PARENT_SCOPE)
    return()
  endif()
  string(JSON count LENGTH "${_triptych_toolchain}" ${key})
  set(items "")
  if(count GREATER 0)
    math(EXPR last "${count} - 1")
    foreach(i RANGE ${last})
      string(JSON item GET "${_triptych_toolchain}" ${key} ${i})
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

function(triptych_add_wasm_kernel name)
  cmake_parse_arguments(K "" "MAX_MEMORY;STACK_BYTES" "SOURCES;DEFINES;DEPENDS" ${ARGN})
  if(NOT K_SOURCES)
    message(FATAL_ERROR "triptych_add_wasm_kernel(${name}): no SOURCES")
  endif()
  if(NOT K_MAX_MEMORY)
    set(K_MAX_MEMORY ${TRIPTYCH_WASM_MAX_MEMORY})
  endif()
  if(NOT K_STACK_BYTES)
    set(K_STACK_BYTES ${TRIPTYCH_WASM_STACK_BYTES})
  endif()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${name}.wasm)
  set(obj_dir ${CMAKE_CURRENT_BINARY_DIR}/${name}.dir)
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
    OUTPUT ${out}
    COMMAND ${TRIPTYCH_WASM_LD} ${TRIPTYCH_WASM_LDFLAGS}
            --max-memory=${K_MAX_MEMORY} -z stack-size=${K_STACK_BYTES}
            ${objects} ${TRIPTYCH_WASM_LIBC} -o ${out}
    DEPENDS ${objects}
    COMMENT "wasm32: linking ${name}.wasm" VERBATIM)
  add_custom_target(${name}_wasm ALL DEPENDS ${out})
  set_target_properties(${name}_wasm PROPERTIES TRIPTYCH_WASM_FILE ${out})
endfunction()
