# SPDX-License-Identifier: Apache-2.0
# triptych_add_wasm_kernel(<name> SOURCES a.c [b.cpp ...] [DEFINES X=1 ...] [MAX_MEMORY bytes] [STACK_BYTES bytes])
#
# Compiles C/C++ kernel sources with Debian's clang-14 and wasm-ld-14 into
# <build>/kernels/<name>.wasm for wasm32 with simd128, atomics, bulk memory
# and mutable globals, importing a shared memory (the arena's
# WebAssembly.Memory). Exports the kernel ABI (kernels/sdk/triptych_kernel.h) plus
# __stack_pointer, __wasm_init_tls/__tls_size/__tls_align/__tls_base and
# __heap_base/__data_end, which the engine needs to give every worker instance
# its own stack and TLS block inside the arena. See docs/wasm-kernels.md.
find_program(TRIPTYCH_WASM_CLANG NAMES clang-14 clang REQUIRED)
find_program(TRIPTYCH_WASM_LD NAMES wasm-ld-14 wasm-ld REQUIRED)

set(TRIPTYCH_WASM_CFLAGS
  --target=wasm32 -O3 -msimd128 -matomics -mbulk-memory -mmutable-globals
  -ftls-model=local-exec -ffp-contract=off -nostdlib -fno-exceptions
  -Wall -Wextra -Werror)

function(triptych_add_wasm_kernel name)
  cmake_parse_arguments(K "" "MAX_MEMORY;STACK_BYTES" "SOURCES;DEFINES;DEPENDS" ${ARGN})
  if(NOT K_MAX_MEMORY)
    set(K_MAX_MEMORY 2147483648)  # 2 GiB: wasm32 addresses up to 4 GiB; V8 caps shared memories
  endif()
  if(NOT K_STACK_BYTES)
    set(K_STACK_BYTES 65536)      # the module's own stack; workers get theirs in the arena
  endif()
  set(out_dir ${CMAKE_BINARY_DIR}/kernels)
  set(objects "")
  set(defines "")
  foreach(d IN LISTS K_DEFINES)
    list(APPEND defines -D${d})
  endforeach()
  foreach(src IN LISTS K_SOURCES)
    get_filename_component(abs ${src} ABSOLUTE)
    get_filename_component(stem ${src} NAME_WE)
    set(obj ${out_dir}/${name}.dir/${stem}.o)
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}/${name}.dir
      COMMAND ${TRIPTYCH_WASM_CLANG} ${TRIPTYCH_WASM_CFLAGS} ${defines}
              -I${PROJECT_SOURCE_DIR}/kernels/sdk -c ${abs} -o ${obj}
      DEPENDS ${abs} ${PROJECT_SOURCE_DIR}/kernels/sdk/triptych_kernel.h ${K_DEPENDS}
      COMMENT "wasm32: compiling ${src}" VERBATIM)
    list(APPEND objects ${obj})
  endforeach()
  add_custom_command(
    OUTPUT ${out_dir}/${name}.wasm
    COMMAND ${TRIPTYCH_WASM_LD} --no-entry --import-memory --shared-memory
            --max-memory=${K_MAX_MEMORY} -z stack-size=${K_STACK_BYTES}
            --export=__stack_pointer --export=__heap_base --export=__data_end
            --export=__wasm_init_tls --export=__tls_size --export=__tls_align --export=__tls_base
            ${objects} -o ${out_dir}/${name}.wasm
    DEPENDS ${objects}
    COMMENT "wasm32: linking ${name}.wasm" VERBATIM)
  add_custom_target(${name}_wasm ALL DEPENDS ${out_dir}/${name}.wasm)
endfunction()
