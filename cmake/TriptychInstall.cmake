# SPDX-License-Identifier: Apache-2.0
# `cmake --install` rules: the kernel SDK as a CMake package, so a kernel
# project anywhere needs only find_package(triptych) and
# triptych_add_wasm_kernel(...). Installs (component "sdk"):
#   <prefix>/include/triptych-kernel/triptych_kernel.h        the ABI header
#   <prefix>/share/cmake/triptych/triptych-config.cmake    the package
#   <prefix>/share/cmake/triptych/triptych-config-version.cmake
#   <prefix>/share/cmake/triptych/TriptychWasm.cmake       the build function
#   <prefix>/share/cmake/triptych/wasm-toolchain.json      its flags (one definition)
# Guide: docs/wasm-kernels.md, "Building".
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(TRIPTYCH_INSTALL_KERNEL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/triptych-kernel)
set(TRIPTYCH_INSTALL_PACKAGEDIR ${CMAKE_INSTALL_DATADIR}/cmake/triptych)  # arch-independent: share/
set(_sdk ${PROJECT_SOURCE_DIR}/kernels/sdk)

# The ABI version the header declares, so a project can check it at configure time.
file(STRINGS ${_sdk}/triptych_kernel.h _abi REGEX "^#define TP_KERNEL_ABI_VERSION ")
string(REGEX REPLACE "^#define TP_KERNEL_ABI_VERSION ([0-9]+)u.*" "\\1" TRIPTYCH_KERNEL_ABI_VERSION "${_abi}")

configure_package_config_file(cmake/triptych-config.cmake.in
  ${PROJECT_BINARY_DIR}/package/triptych-config.cmake
  INSTALL_DESTINATION ${TRIPTYCH_INSTALL_PACKAGEDIR}
  PATH_VARS TRIPTYCH_INSTALL_KERNEL_INCLUDEDIR)
# ARCH_INDEPENDENT: the package builds wasm32 whatever the host is.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/triptych-config-version.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)

install(FILES ${_sdk}/triptych_kernel.h DESTINATION ${TRIPTYCH_INSTALL_KERNEL_INCLUDEDIR} COMPONENT sdk)
install(FILES ${PROJECT_BINARY_DIR}/package/triptych-config.cmake
              ${PROJECT_BINARY_DIR}/package/triptych-config-version.cmake
              ${_sdk}/TriptychWasm.cmake ${_sdk}/wasm-toolchain.json
        DESTINATION ${TRIPTYCH_INSTALL_PACKAGEDIR} COMPONENT sdk)
