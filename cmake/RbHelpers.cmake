# rebound_library(NAME SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Creates the static library rebound_<NAME> with the alias rebound::<NAME>. Includes are
# rooted at the repository: #include "services/bounce/parser.h".
function(rebound_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(rebound_${name} STATIC ${ARG_SOURCES})
  add_library(rebound::${name} ALIAS rebound_${name})
  target_include_directories(rebound_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(rebound_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE rebound::build_options ${ARG_PRIVATE_DEPS})
endfunction()

# rebound_test(NAME SOURCES ... [DEPS ...] [LABELS ...] [PG])
# A GoogleTest executable whose cases are discovered into ctest with the given labels.
# PG marks tests that need the test PostgreSQL cluster (ctest fixture "pg", label "pg").
function(rebound_test name)
  cmake_parse_arguments(ARG "PG" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE rebound::build_options ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  set(labels ${ARG_LABELS})
  set(props)
  if(ARG_PG)
    list(APPEND labels pg)
    list(APPEND props FIXTURES_REQUIRED pg)
    target_link_libraries(${name} PRIVATE rebound::testing)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  # No ENVIRONMENT here: tests inherit ctest's environment at run time.
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 60
    TEST_LIST ${name}_TESTS
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} ${props})
  # Several labels are a list, which gtest_discover_tests' PROPERTIES cannot carry: set
  # them from an include file that runs after discovery.
  set(labels_file ${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake)
  file(WRITE ${labels_file}
    "foreach(t IN LISTS ${name}_TESTS)\n  set_tests_properties(\"\${t}\" PROPERTIES LABELS \"${labels}\")\nendforeach()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${labels_file})
endfunction()

# rebound_fuzzer(NAME SOURCES ... [DEPS ...]): a libFuzzer target, built only with REBOUND_FUZZ.
function(rebound_fuzzer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  if(NOT REBOUND_FUZZ)
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE rebound::build_options ${ARG_DEPS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
endfunction()

macro(rebound_optional_subdirectories)
  foreach(dir ${ARGN})
    if(EXISTS ${PROJECT_SOURCE_DIR}/${dir}/CMakeLists.txt)
      add_subdirectory(${PROJECT_SOURCE_DIR}/${dir} ${PROJECT_BINARY_DIR}/${dir})
    endif()
  endforeach()
endmacro()

# rebound_embed(TARGET OUTPUT NAMESPACE FUNCTION DIRECTORY GLOB)
# Compiles the files matching GLOB under DIRECTORY (sorted by name) into TARGET as
# `std::vector<rebound::EmbeddedFile> NAMESPACE::FUNCTION()`, regenerated when they change.
function(rebound_embed target output namespace function directory glob)
  file(GLOB files CONFIGURE_DEPENDS ${directory}/${glob})
  list(SORT files)
  string(REPLACE ";" "|" files_arg "${files}")
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} -DNAMESPACE=${namespace} -DFUNCTION=${function}
            -DFILES=${files_arg} -DFILES_DIR=${directory} -P ${PROJECT_SOURCE_DIR}/cmake/RbEmbed.cmake
    DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/RbEmbed.cmake
    COMMENT "Embedding ${glob} from ${directory}"
    VERBATIM)
  target_sources(${target} PRIVATE ${output})
endfunction()
