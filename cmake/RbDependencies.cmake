# All third-party dependencies come from Debian's packages (see tools/install-deps).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(Protobuf REQUIRED)
# gRPC's config references /usr/bin/grpc_cpp_plugin: protobuf-compiler-grpc must be installed.
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(GTest REQUIRED)
find_package(tomlplusplus CONFIG REQUIRED)
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
pkg_check_modules(CARES REQUIRED IMPORTED_TARGET libcares)
if(REBOUND_BENCH)
  find_package(benchmark CONFIG)
endif()

# libpqxx 6.4 has no CMake config; wrap its pkg-config target so optional<> conversions work.
add_library(rebound_pqxx INTERFACE)
add_library(rebound::pqxx ALIAS rebound_pqxx)
target_link_libraries(rebound_pqxx INTERFACE PkgConfig::PQXX)
target_compile_definitions(rebound_pqxx INTERFACE PQXX_HAVE_OPTIONAL)

# mimetic ships neither pkg-config nor a CMake config. Imported so its headers are system
# includes: they use `register` and std::unary_function, which -Werror (and clang) reject.
find_path(MIMETIC_INCLUDE_DIR mimetic/mimetic.h REQUIRED)
find_library(MIMETIC_LIBRARY mimetic REQUIRED)
add_library(mimetic::mimetic UNKNOWN IMPORTED)
set_target_properties(mimetic::mimetic PROPERTIES
  IMPORTED_LOCATION ${MIMETIC_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${MIMETIC_INCLUDE_DIR})

include(GoogleTest)
