# The hostile-tenant battery of the agent sandbox: tenant A's agent tries, one Bash tool call at a
# time, to escape while tenant B is active (integration; needs DATABASE_URL, REDIS_URL and
# CLAUDE_CLI_PATH, skipped otherwise).
include(GoogleTest)

add_executable(sandbox_battery_test ${CMAKE_CURRENT_LIST_DIR}/integration/sandbox_battery_test.cpp
                                    ${CMAKE_CURRENT_LIST_DIR}/integration/session_flow_fixture.cpp)
target_link_libraries(sandbox_battery_test PRIVATE caa_service_fixture GTest::gtest_main)
caa_target_defaults(sandbox_battery_test)
add_dependencies(sandbox_battery_test claude-agent-api)
if(NOT CAA_NO_SCRIPTED_MODEL)
  add_dependencies(sandbox_battery_test scripted_model)  # defined after this file is included
endif()
gtest_discover_tests(sandbox_battery_test PROPERTIES LABELS integration TIMEOUT 600
                     DISCOVERY_TIMEOUT 60)
