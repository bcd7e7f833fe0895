# SPDX-License-Identifier: Apache-2.0
# One library per subsystem, linked only downward, so that a wrong-way include
# fails to compile (docs/ARCHITECTURE.md, "Layers"). A layer's public include
# path is a folder of its own under the build tree holding one link,
# triptych/<name> -> include/triptych/<name>; its sources' private path holds
# src/<name> only. A target therefore sees the headers of its own layer and of
# the layers it links, and nothing else: `#include "triptych/render/..."` in
# the ring layer is "No such file or directory". tests/layering proves it.
include_guard(GLOBAL)

# Links `name` (a file or folder) at `link`, once.
function(_triptych_link target link)
  if(NOT EXISTS ${link} AND NOT IS_SYMLINK ${link})
    get_filename_component(_dir ${link} DIRECTORY)
    file(MAKE_DIRECTORY ${_dir})
    file(CREATE_LINK ${target} ${link} SYMBOLIC)
  endif()
endfunction()

# triptych_add_layer(NAME n [PUBLIC_DEPS target...] [PRIVATE_DEPS target...])
# Defines triptych_<n>: a static library of src/<n>/**/*.cpp, or an INTERFACE
# library when the layer is header-only. Its public include folder exposes
# include/triptych/<n>; PUBLIC_DEPS are what its headers include, PRIVATE_DEPS
# what only its sources do.
function(triptych_add_layer)
  cmake_parse_arguments(L "" "NAME" "PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  set(_target triptych_${L_NAME})
  set(_root ${PROJECT_BINARY_DIR}/layers/${L_NAME})
  _triptych_link(${PROJECT_SOURCE_DIR}/include/triptych/${L_NAME} ${_root}/include/triptych/${L_NAME})
  file(GLOB_RECURSE _sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${L_NAME}/*.cpp)
  if(_sources)
    _triptych_link(${PROJECT_SOURCE_DIR}/src/${L_NAME} ${_root}/src/${L_NAME})
    add_library(${_target} STATIC ${_sources})
    target_include_directories(${_target} PUBLIC ${_root}/include PRIVATE ${_root}/src)
    target_link_libraries(${_target} PUBLIC ${L_PUBLIC_DEPS} PRIVATE ${L_PRIVATE_DEPS} triptych_warnings)
    set_target_properties(${_target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  else()
    add_library(${_target} INTERFACE)
    target_include_directories(${_target} INTERFACE ${_root}/include)
    target_link_libraries(${_target} INTERFACE ${L_PUBLIC_DEPS})
  endif()
endfunction()
