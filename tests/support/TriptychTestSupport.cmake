# SPDX-License-Identifier: Apache-2.0
# triptych_test_support: the scaffolding that tests, benchmarks and the render
# demo share (tests/support/*.cpp; the header-only helpers beside them need no
# library). Included by tests/support/CMakeLists.txt and by each benchmark or
# tool folder that uses it, so it exists in presets without tests too.
include_guard(GLOBAL)
add_library(triptych_test_support STATIC ${CMAKE_CURRENT_LIST_DIR}/host_zone.cpp)
target_include_directories(triptych_test_support PUBLIC ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(triptych_test_support PUBLIC triptych_core PRIVATE triptych_warnings)
