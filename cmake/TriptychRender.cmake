# SPDX-License-Identifier: Apache-2.0
# The render stage's build: Vulkan headers (the loader is opened at run time,
# so binaries that never render start on machines without libvulkan1), GLSL
# compiled to SPIR-V by glslc at build time and embedded in the render layer as
# generated headers, and stb (Debian libstb-dev, header-only) for PNG files.
# Included by the top-level CMakeLists.txt right after the render layer. See docs/render-stage.md.

find_package(Vulkan REQUIRED)
find_program(TRIPTYCH_GLSLC glslc REQUIRED)
find_path(TRIPTYCH_STB_INCLUDE_DIR stb_image_write.h PATH_SUFFIXES stb REQUIRED)

set(_triptych_shader_src ${PROJECT_SOURCE_DIR}/src/render/shaders)
set(_triptych_shader_out ${PROJECT_BINARY_DIR}/generated/triptych/render)
file(MAKE_DIRECTORY ${_triptych_shader_out})

# Each shader becomes <name>.spv.inc: a brace-enclosed list of 32-bit SPIR-V
# words that src/render/vulkan/pipeline.cpp includes into a constexpr array.
set(_triptych_shader_incs)
# The .glsl files are included by them (#include).
set(_triptych_shader_includes ${_triptych_shader_src}/particle_rules.glsl ${_triptych_shader_src}/quad_corner.glsl
    ${_triptych_shader_src}/splat_tile.glsl)
foreach(_shader IN ITEMS quad.vert sdf.frag particle.vert particle_count.comp splat_place.comp splat_bin.comp
                         splat_scan.comp splat_shade.comp hud.vert hud.frag)
  set(_out ${_triptych_shader_out}/${_shader}.spv.inc)
  add_custom_command(
    OUTPUT ${_out}
    COMMAND ${TRIPTYCH_GLSLC} --target-env=vulkan1.2 -O -Werror -mfmt=c
            -o ${_out} ${_triptych_shader_src}/${_shader}
    DEPENDS ${_triptych_shader_src}/${_shader} ${_triptych_shader_includes}
    COMMENT "glslc ${_shader}"
    VERBATIM)
  list(APPEND _triptych_shader_incs ${_out})
endforeach()
add_custom_target(triptych_shaders DEPENDS ${_triptych_shader_incs})
add_dependencies(triptych_render triptych_shaders)
target_sources(triptych_render PRIVATE ${_triptych_shader_incs})

target_include_directories(triptych_render PRIVATE ${PROJECT_BINARY_DIR}/generated)
target_include_directories(triptych_render SYSTEM PRIVATE ${TRIPTYCH_STB_INCLUDE_DIR})
# Vulkan stays private: the public headers name no Vulkan type
# (include/triptych/render/vulkan_renderer.hpp forward-declares its handles).
target_link_libraries(triptych_render PRIVATE Vulkan::Headers ${CMAKE_DL_LIBS})
target_compile_definitions(triptych_render PRIVATE VK_NO_PROTOTYPES)

# The window presenter (src/render/window/): GLFW 3.3 (Debian libglfw3-dev) for
# the window and its Vulkan surface, its headers only: like the Vulkan loader,
# libglfw.so.3 is opened at run time (glfw_api.hpp), and GLFW opens the loader
# itself, so binaries that never open a window need neither.
# The HUD: Dear ImGui's core (Debian libimgui-dev, a static library); its
# draw lists are drawn by a pipeline of ours (docs/presenter.md, "The HUD").
pkg_check_modules(GLFW3 REQUIRED IMPORTED_TARGET glfw3)
pkg_check_modules(IMGUI REQUIRED IMPORTED_TARGET imgui)
target_include_directories(triptych_render SYSTEM PRIVATE ${GLFW3_INCLUDE_DIRS})
target_link_libraries(triptych_render PRIVATE PkgConfig::IMGUI)
