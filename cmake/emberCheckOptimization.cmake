# Warns when the project that uses ember builds without optimisation: ember's kernels are written
# for an optimising compiler and run about 20x slower at -O0 (the seed MLP's epoch, 2 threads,
# 2026-12-07: 18.7 s at -O0, 0.79 s at -O2, 0.23 s at -O3 -march=native), which is what CMake's single-config
# generators use when CMAKE_BUILD_TYPE is empty (an add_subdirectory or find_package consumer that
# sets no build type). Included by ember's CMakeLists.txt when it is not the top-level project and
# by emberConfig.cmake.
if(NOT CMAKE_CONFIGURATION_TYPES)
  string(TOUPPER "${CMAKE_BUILD_TYPE}" _ember_build_type)
  set(_ember_flags "${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${_ember_build_type}}")
  if(_ember_build_type STREQUAL "" OR _ember_build_type STREQUAL "DEBUG")
    if(NOT _ember_flags MATCHES "(^| )-O[1-3sfz]")
      message(WARNING "ember: this project builds without optimisation (CMAKE_BUILD_TYPE is "
                      "\"${CMAKE_BUILD_TYPE}\", CMAKE_CXX_FLAGS has no -O): ember's layers run about 20x "
                      "slower so. Configure with -DCMAKE_BUILD_TYPE=Release (or RelWithDebInfo), and add "
                      "-march=native for the AVX units of the machine that runs it.")
    endif()
  endif()
  unset(_ember_build_type)
  unset(_ember_flags)
endif()
