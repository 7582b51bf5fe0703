# The tree check, run before anything of ours compiles (target caa_check_tree) and by the lint:
#
# 1. Dependencies point one way. Every file of the library layers belongs to one layer, by path:
#      0 config/            1 storage/
#      2 transport/{http,json,claude,outbound,sandbox}/ (the wire)
#      3 actors/            4 transport/api/            5 actors/service.*, actors/main.cpp
#    and may include (with "...") only files of its own layer or below. Each layer is one CMake
#    target that links only what is below it; this check makes an upward include fail the build
#    even where a header-only upward include would compile.
# 2. Nothing is dropped silently: every .cpp under those folders is a source of a target, and every
#    migration under storage/postgres/migrations is in the list of storage/migrations.cmake.
#
# Script mode: cmake -DCAA_SOURCE_DIR=<tree> [-DCAA_LISTED=<file>] [-DCAA_MIGRATIONS=a|b]
#                    [-DCAA_STAMP=<file>] -P check_tree.cmake
# CAA_LISTED holds one line per target: "<source dir>|<source>|<source>...". Without it, step 2
# is skipped (the unit test of step 1 needs no build tree).

cmake_minimum_required(VERSION 3.20)

if(NOT CAA_SOURCE_DIR)
  message(FATAL_ERROR "check_tree: CAA_SOURCE_DIR is not set")
endif()

# The layer of `rel` (a path relative to the source root) in `out`, or -1 when it is in none.
function(caa_layer_of rel out)
  set(layer -1)
  if(rel MATCHES "^config/")
    set(layer 0)
  elseif(rel MATCHES "^storage/")
    set(layer 1)
  elseif(rel MATCHES "^transport/(http|json|claude|outbound|sandbox)/")
    set(layer 2)
  elseif(rel MATCHES "^transport/api/")
    set(layer 4)
  elseif(rel MATCHES "^actors/(service\\.[ch]pp|main\\.cpp)$")
    set(layer 5)
  elseif(rel MATCHES "^actors/")
    set(layer 3)
  endif()
  set(${out} ${layer} PARENT_SCOPE)
endfunction()

set(names "config" "storage" "wire" "actors" "api" "executable")
set(problems "")

# The check reads every file on disk (listed or not), so it walks the folders itself.
file(GLOB_RECURSE files RELATIVE "${CAA_SOURCE_DIR}"
     "${CAA_SOURCE_DIR}/config/*.[ch]pp" "${CAA_SOURCE_DIR}/storage/*.[ch]pp"
     "${CAA_SOURCE_DIR}/transport/*.[ch]pp" "${CAA_SOURCE_DIR}/actors/*.[ch]pp")
list(SORT files)
foreach(rel IN LISTS files)
  caa_layer_of("${rel}" mine)
  if(mine EQUAL -1)
    continue()
  endif()
  file(STRINGS "${CAA_SOURCE_DIR}/${rel}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\".*$" "\\1" target "${line}")
    caa_layer_of("${target}" theirs)
    if(theirs GREATER mine)
      list(GET names ${mine} my_name)
      list(GET names ${theirs} their_name)
      list(APPEND problems
           "${rel} (${my_name}) includes ${target} (${their_name}): dependencies point down only")
    endif()
  endforeach()
endforeach()

if(CAA_LISTED)
  file(STRINGS "${CAA_LISTED}" targets)
  set(listed "")
  foreach(entry IN LISTS targets)
    string(REPLACE "|" ";" parts "${entry}")
    list(POP_FRONT parts dir)
    foreach(src IN LISTS parts)
      if(NOT IS_ABSOLUTE "${src}")
        set(src "${dir}/${src}")
      endif()
      file(RELATIVE_PATH rel "${CAA_SOURCE_DIR}" "${src}")
      list(APPEND listed "${rel}")
    endforeach()
  endforeach()
  foreach(rel IN LISTS files)
    if(rel MATCHES "\\.cpp$" AND NOT rel IN_LIST listed)
      list(APPEND problems "${rel} is in no target's source list (add it to its CMakeLists.txt)")
    endif()
  endforeach()
  string(REPLACE "|" ";" migrations "${CAA_MIGRATIONS}")
  file(GLOB on_disk RELATIVE "${CAA_SOURCE_DIR}" "${CAA_SOURCE_DIR}/storage/postgres/migrations/*")
  foreach(rel IN LISTS on_disk)
    if(NOT "${CAA_SOURCE_DIR}/${rel}" IN_LIST migrations)
      list(APPEND problems "${rel} is not in the migration list of storage/migrations.cmake")
    endif()
  endforeach()
endif()

if(problems)
  list(JOIN problems "\n  " text)
  message(FATAL_ERROR "tree check failed:\n  ${text}")
endif()
if(CAA_STAMP)
  file(TOUCH "${CAA_STAMP}")
endif()
