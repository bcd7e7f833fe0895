# SPDX-License-Identifier: Apache-2.0
# Helpers that keep per-subsystem CMakeLists short and uniform.

# Adds every immediate subdirectory of DIR that has a CMakeLists.txt.
function(triptych_add_subdirs dir)
  if(NOT IS_DIRECTORY ${dir})
    return()
  endif()
  file(GLOB _children LIST_DIRECTORIES true ${dir}/*)
  list(SORT _children)
  foreach(_child IN LISTS _children)
    if(IS_DIRECTORY ${_child} AND EXISTS ${_child}/CMakeLists.txt)
      add_subdirectory(${_child})
    endif()
  endforeach()
endfunction()

# triptych_add_test(NAME n SOURCES a.cpp ... [LABELS l1 l2] [LIBS x] [TIMEOUT s])
# Labels used by the Makefile: `concurrency` (runs under TSan), `stress`
# (long; scaled down in sanitizer builds), `multiprocess`.
function(triptych_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LABELS;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE triptych triptych_warnings GTest::gtest GTest::gtest_main ${T_LIBS})
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
endfunction()

# triptych_add_bench(NAME n SOURCES a.cpp ... [LIBS x])
function(triptych_add_bench)
  cmake_parse_arguments(B "" "NAME" "SOURCES;LIBS" ${ARGN})
  add_executable(${B_NAME} ${B_SOURCES})
  target_link_libraries(${B_NAME} PRIVATE triptych triptych_warnings ${B_LIBS})
  target_include_directories(${B_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/bench)
endfunction()
