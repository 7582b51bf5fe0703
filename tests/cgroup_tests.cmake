# Tests of transport/sandbox's cgroup manager: a fake cgroup tree in a temporary directory
# (unit), and the host's real cgroups (integration; skipped unless root with writable cgroups).
include(GoogleTest)

add_executable(cgroup_test ${CMAKE_CURRENT_LIST_DIR}/unit/cgroup_test.cpp
                           ${CMAKE_CURRENT_LIST_DIR}/unit/cgroup_v2_test.cpp
                           ${CMAKE_CURRENT_LIST_DIR}/unit/cgroup_parse_test.cpp)
target_link_libraries(cgroup_test PRIVATE caa_wire GTest::gtest_main)
caa_target_defaults(cgroup_test)
gtest_discover_tests(cgroup_test PROPERTIES LABELS unit)

add_executable(cgroup_integration_test
               ${CMAKE_CURRENT_LIST_DIR}/integration/cgroup_integration_test.cpp)
target_link_libraries(cgroup_integration_test PRIVATE caa_wire GTest::gtest_main)
caa_target_defaults(cgroup_integration_test)
gtest_discover_tests(cgroup_integration_test PROPERTIES LABELS integration TIMEOUT 180)
