# The hostile-tenant battery of the agent sandbox: tenant A's agent tries, one Bash tool call at a
# time, to escape while tenant B is active; and the model proxy's usage counts through the
# service. Both run the service with the strict sandbox (integration; need DATABASE_URL,
# REDIS_URL and CLAUDE_CLI_PATH, skipped otherwise).
include(GoogleTest)

function(caa_sandbox_flow_test name)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/integration/${name}.cpp
                         ${CMAKE_CURRENT_LIST_DIR}/integration/session_flow_fixture.cpp)
  target_link_libraries(${name} PRIVATE caa_service_fixture GTest::gtest_main)
  caa_target_defaults(${name})
  add_dependencies(${name} claude-agent-api)
  if(NOT CAA_NO_SCRIPTED_MODEL)
    add_dependencies(${name} scripted_model)  # defined after this file is included
  endif()
  gtest_discover_tests(${name} PROPERTIES LABELS integration TIMEOUT 600 DISCOVERY_TIMEOUT 60)
endfunction()

caa_sandbox_flow_test(sandbox_battery_test)
caa_sandbox_flow_test(usage_proxy_test)
