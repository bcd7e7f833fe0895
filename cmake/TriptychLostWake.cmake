# SPDX-License-Identifier: Apache-2.0
# The lost-wake negative check (docs/verification.md): wake-up tests rebuilt
# with every FUTEX_WAKE suppressed must fail, or they could not catch a lost
# wake-up. src/sync/futex.cpp is compiled a second time, with
# TRIPTYCH_TEST_LOSE_WAKES=1, into an object library that only the `*_lostwake`
# test executables link. Its objects come before libtriptych_sync.a on their link
# line, so the archive's futex.o is never pulled in; if it ever were, the
# duplicate strong symbols would stop the link ("multiple definition"), so a
# binary can never mix the two variants. Unsanitized builds only (dev and
# release); the sync layer itself is never built with the flag.
include_guard(GLOBAL)

if(NOT TRIPTYCH_SANITIZE AND NOT TARGET triptych_futex_lostwake)
  add_library(triptych_futex_lostwake OBJECT ${PROJECT_SOURCE_DIR}/src/sync/futex.cpp)
  target_include_directories(triptych_futex_lostwake PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_compile_definitions(triptych_futex_lostwake PRIVATE TRIPTYCH_TEST_LOSE_WAKES=1)
  target_link_libraries(triptych_futex_lostwake PRIVATE triptych_warnings triptych_sanitize)
  set_target_properties(triptych_futex_lostwake PROPERTIES POSITION_INDEPENDENT_CODE ON)
endif()

# triptych_add_lostwake_test(NAME n SOURCES a.cpp ... CASES Suite.Test ... [LIBS x])
# Builds n_lostwake from the same sources as test n, with wakes lost, and adds
# one ctest per gtest case named n_lostwake:<case>, labelled `lostwake`. Each
# passes only if gtest reports exactly that one test FAILED (a crash, a
# timeout, a pass or a filter that matches nothing all count as a failure of
# the check). The cases run in parallel: each mostly sleeps until a timeout.
function(triptych_add_lostwake_test)
  if(TRIPTYCH_SANITIZE)
    return()
  endif()
  cmake_parse_arguments(L "" "NAME" "SOURCES;CASES;LIBS" ${ARGN})
  set(_exe ${L_NAME}_lostwake)
  add_executable(${_exe} ${L_SOURCES} $<TARGET_OBJECTS:triptych_futex_lostwake>)
  target_link_libraries(${_exe} PRIVATE triptych triptych_warnings GTest::gtest GTest::gtest_main ${L_LIBS})
  target_include_directories(${_exe} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${_exe} PRIVATE TRIPTYCH_TEST_LOSE_WAKES=1)
  foreach(_case IN LISTS L_CASES)
    add_test(NAME ${_exe}:${_case} COMMAND ${_exe} --gtest_filter=${_case})
    set_tests_properties(${_exe}:${_case} PROPERTIES
      LABELS lostwake TIMEOUT 60
      PASS_REGULAR_EXPRESSION "\\[  FAILED  \\] 1 test, listed below")
  endforeach()
endfunction()
