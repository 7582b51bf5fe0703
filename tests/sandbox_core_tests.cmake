# Tests of transport/sandbox (the agent sandbox): the pure plan and tenant files (unit), and the
# privilege drop with bubblewrap on the real kernel (integration, root only).
include(GoogleTest)

add_executable(sandbox_plan_test ${CMAKE_CURRENT_LIST_DIR}/unit/sandbox_plan_test.cpp)
target_link_libraries(sandbox_plan_test PRIVATE caa_wire GTest::gtest_main)
caa_target_defaults(sandbox_plan_test)
gtest_discover_tests(sandbox_plan_test PROPERTIES LABELS unit)

add_executable(sandbox_spawn_test ${CMAKE_CURRENT_LIST_DIR}/integration/sandbox_spawn_test.cpp)
target_link_libraries(sandbox_spawn_test PRIVATE caa_wire GTest::gtest_main)
caa_target_defaults(sandbox_spawn_test)
gtest_discover_tests(sandbox_spawn_test PROPERTIES LABELS integration TIMEOUT 120)
