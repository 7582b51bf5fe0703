# The tree check (cmake/check_tree.cmake) on small trees written here: one that is fine passes,
# an upward include fails, a .cpp in no target fails, a migration not in the list fails.
set(_tc ${CMAKE_CURRENT_BINARY_DIR}/tree_check)
set(_tc_check ${PROJECT_SOURCE_DIR}/cmake/check_tree.cmake)

function(caa_tree_fixture name)  # caa_tree_fixture(<name> <relative path> <text> ...)
  set(args ${ARGN})
  while(args)
    list(POP_FRONT args rel text)
    file(WRITE ${_tc}/${name}/${rel} "${text}\n")
  endwhile()
endfunction()

caa_tree_fixture(good
  config/a.hpp "#include <string>"
  storage/b.hpp "#include \"config/a.hpp\""
  transport/http/c.hpp "#include \"storage/b.hpp\""
  actors/d.hpp "#include \"transport/http/c.hpp\""
  transport/api/e.hpp "#include \"actors/d.hpp\""
  actors/service.cpp "#include \"transport/api/e.hpp\""
  actors/d.cpp "#include \"actors/d.hpp\""
  storage/postgres/migrations/001_a.sql "select 1;")
file(WRITE ${_tc}/good.listed "${_tc}/good|actors/d.cpp|actors/service.cpp\n")
caa_tree_fixture(upward
  config/a.hpp "#include <string>"
  actors/d.hpp "#include \"transport/api/e.hpp\""
  transport/api/e.hpp "#include \"config/a.hpp\"")
caa_tree_fixture(wire_up
  transport/json/j.hpp "  #  include \"actors/d.hpp\" // spaced"
  actors/d.hpp "")

add_test(NAME tree_check.accepts_a_tree_whose_includes_point_down
  COMMAND ${CMAKE_COMMAND} -DCAA_SOURCE_DIR=${_tc}/good -DCAA_LISTED=${_tc}/good.listed
          "-DCAA_MIGRATIONS=${_tc}/good/storage/postgres/migrations/001_a.sql" -P ${_tc_check})
add_test(NAME tree_check.refuses_an_actor_that_includes_the_api_layer
  COMMAND ${CMAKE_COMMAND} -DCAA_SOURCE_DIR=${_tc}/upward -P ${_tc_check})
add_test(NAME tree_check.refuses_the_wire_including_an_actor
  COMMAND ${CMAKE_COMMAND} -DCAA_SOURCE_DIR=${_tc}/wire_up -P ${_tc_check})
add_test(NAME tree_check.refuses_a_cpp_in_no_target
  COMMAND ${CMAKE_COMMAND} -DCAA_SOURCE_DIR=${_tc}/good -DCAA_LISTED=${_tc}/good.listed.partial
          "-DCAA_MIGRATIONS=${_tc}/good/storage/postgres/migrations/001_a.sql" -P ${_tc_check})
file(WRITE ${_tc}/good.listed.partial "${_tc}/good|actors/service.cpp\n")
add_test(NAME tree_check.refuses_a_migration_not_in_the_list
  COMMAND ${CMAKE_COMMAND} -DCAA_SOURCE_DIR=${_tc}/good -DCAA_LISTED=${_tc}/good.listed
          "-DCAA_MIGRATIONS=" -P ${_tc_check})
add_test(NAME tree_check.accepts_this_tree
  COMMAND ${CMAKE_COMMAND} -DCAA_SOURCE_DIR=${PROJECT_SOURCE_DIR} -P ${_tc_check})
set_tests_properties(tree_check.refuses_an_actor_that_includes_the_api_layer
                     tree_check.refuses_the_wire_including_an_actor
                     tree_check.refuses_a_cpp_in_no_target
                     tree_check.refuses_a_migration_not_in_the_list
                     PROPERTIES PASS_REGULAR_EXPRESSION "tree check failed")
set_tests_properties(tree_check.accepts_a_tree_whose_includes_point_down
                     tree_check.refuses_an_actor_that_includes_the_api_layer
                     tree_check.refuses_the_wire_including_an_actor
                     tree_check.refuses_a_cpp_in_no_target
                     tree_check.refuses_a_migration_not_in_the_list
                     tree_check.accepts_this_tree
                     PROPERTIES LABELS unit)
