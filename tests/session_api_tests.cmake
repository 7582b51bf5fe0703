# Tests of the session routes (transport/api): event sinks, turn bodies, response bodies (unit),
# and the whole session flow against the service binary, the real CLI and the scripted model
# (integration; needs DATABASE_URL, REDIS_URL and CLAUDE_CLI_PATH, skipped otherwise).
include(GoogleTest)

foreach(name sse_sink_test session_api_test openai_test usage_request_test)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/unit/${name}.cpp)
  target_link_libraries(${name} PRIVATE caa_api GTest::gtest_main)
  caa_target_defaults(${name})
  gtest_discover_tests(${name} PROPERTIES LABELS unit)
endforeach()

add_executable(session_flow_test ${CMAKE_CURRENT_LIST_DIR}/integration/session_flow_test.cpp
                                 ${CMAKE_CURRENT_LIST_DIR}/integration/session_resource_test.cpp
                                 ${CMAKE_CURRENT_LIST_DIR}/integration/session_flow_fixture.cpp)
target_link_libraries(session_flow_test PRIVATE caa_service_fixture GTest::gtest_main)
caa_target_defaults(session_flow_test)
add_dependencies(session_flow_test claude-agent-api)
if(NOT CAA_NO_SCRIPTED_MODEL)
  add_dependencies(session_flow_test scripted_model)  # defined after this file is included
endif()
gtest_discover_tests(session_flow_test PROPERTIES LABELS integration TIMEOUT 600
                     DISCOVERY_TIMEOUT 60)

# The OpenAI-compatible routes through the pinned `openai` npm client (node runs
# tests/openai/client_test.mjs; the client is installed into node_modules by scripts/setup.sh).
add_executable(openai_api_test ${CMAKE_CURRENT_LIST_DIR}/integration/openai_api_test.cpp
                               ${CMAKE_CURRENT_LIST_DIR}/integration/session_flow_fixture.cpp)
target_link_libraries(openai_api_test PRIVATE caa_service_fixture GTest::gtest_main)
target_compile_definitions(openai_api_test PRIVATE CAA_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
caa_target_defaults(openai_api_test)
add_dependencies(openai_api_test claude-agent-api)
if(NOT CAA_NO_SCRIPTED_MODEL)
  add_dependencies(openai_api_test scripted_model)
endif()
gtest_discover_tests(openai_api_test PROPERTIES LABELS integration TIMEOUT 600
                     DISCOVERY_TIMEOUT 60)

# Usage per tenant and spend caps (GET /api/v1/usage, tenant limits, 402 BUDGET_EXCEEDED) against
# the service binary, the real CLI and the scripted model (integration, as above).
add_executable(usage_api_test ${CMAKE_CURRENT_LIST_DIR}/integration/usage_api_test.cpp
                              ${CMAKE_CURRENT_LIST_DIR}/integration/session_flow_fixture.cpp)
target_link_libraries(usage_api_test PRIVATE caa_service_fixture GTest::gtest_main)
caa_target_defaults(usage_api_test)
add_dependencies(usage_api_test claude-agent-api)
if(NOT CAA_NO_SCRIPTED_MODEL)
  add_dependencies(usage_api_test scripted_model)  # defined after this file is included
endif()
gtest_discover_tests(usage_api_test PROPERTIES LABELS integration TIMEOUT 600
                     DISCOVERY_TIMEOUT 60)
