# cmake -DOUTPUT=file.cpp -DNAMESPACE=ns -DFUNCTION=Fn -DFILES=a;b -P RbEmbed.cmake
# Writes a C++ source defining `std::vector<rebound::EmbeddedFile> ns::Fn()` with the
# names (file name only) and contents of FILES, in the order given.
string(REPLACE "|" ";" FILES "${FILES}")
set(body "")
foreach(file ${FILES})
  file(READ ${file} content)
  get_filename_component(name ${file} NAME)
  string(FIND "${content}" ")rebound_embed\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${file} contains the raw-string delimiter )rebound_embed\"")
  endif()
  string(APPEND body "      {\"${name}\", R\"rebound_embed(${content})rebound_embed\"},\n")
endforeach()
file(WRITE ${OUTPUT}.tmp "// Generated from ${FILES_DIR} by cmake/RbEmbed.cmake; do not edit.
#include \"storage/embedded.h\"

namespace ${NAMESPACE} {

std::vector<rebound::EmbeddedFile> ${FUNCTION}() {
  return {
${body}  };
}

}  // namespace ${NAMESPACE}
")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
