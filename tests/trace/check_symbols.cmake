# SPDX-License-Identifier: Apache-2.0
# Fails unless the TRIPTYCH_TRACE=0 probe object names no triptych::trace
# symbol while the TRIPTYCH_TRACE=1 one does. Run by ctest (tests/trace).
foreach(_which OFF ON)
  execute_process(COMMAND nm -C ${${_which}} OUTPUT_VARIABLE _syms RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "nm failed on ${${_which}}")
  endif()
  string(REGEX MATCHALL "triptych::trace::[A-Za-z_:]+" _found "${_syms}")
  list(LENGTH _found _n_${_which})
  message(STATUS "${_which}: ${_n_${_which}} triptych::trace symbols ${_found}")
endforeach()
if(NOT _n_OFF EQUAL 0)
  message(FATAL_ERROR "TRIPTYCH_TRACE=0 left trace symbols in the object")
endif()
if(_n_ON EQUAL 0)
  message(FATAL_ERROR "TRIPTYCH_TRACE=1 probe has no trace symbols: the check cannot tell")
endif()
