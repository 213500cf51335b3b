# Build options as INTERFACE targets: nothing here touches global compile flags.
set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()

option(REBOUND_WERROR "Treat warnings as errors" ON)
option(REBOUND_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(REBOUND_FUZZ "Build libFuzzer targets (needs clang)" OFF)
option(REBOUND_BENCH "Build benchmarks" ON)

add_library(rebound_build_options INTERFACE)
add_library(rebound::build_options ALIAS rebound_build_options)
target_compile_options(rebound_build_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
  -Wimplicit-fallthrough -Wno-missing-field-initializers
  $<$<BOOL:${REBOUND_WERROR}>:-Werror>)
if(REBOUND_SANITIZE)
  target_compile_options(rebound_build_options INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(rebound_build_options INTERFACE -fsanitize=address,undefined)
endif()
if(REBOUND_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "REBOUND_FUZZ needs clang: configure with CXX=clang++")
  endif()
  # Instrument everything for coverage; the fuzzer main comes only into fuzz targets.
  target_compile_options(rebound_build_options INTERFACE -fsanitize=fuzzer-no-link,address,undefined)
  target_link_options(rebound_build_options INTERFACE -fsanitize=address,undefined)
endif()
