# MCP servers in a query: the test stdio MCP server (bin/test_mcp_server), unit tests of the
# decoder, mapping and `${NAME}` expansion (unit), and the whole flow against the service binary,
# the real CLI, the scripted model and the test server (integration; needs DATABASE_URL,
# REDIS_URL and CLAUDE_CLI_PATH, skipped otherwise).
include(GoogleTest)

add_library(caa_test_mcp_server STATIC ${CMAKE_CURRENT_LIST_DIR}/support/mcp_server/mcp_server.cpp)
target_link_libraries(caa_test_mcp_server PUBLIC rapidjson)
caa_target_defaults(caa_test_mcp_server)

add_executable(test_mcp_server ${CMAKE_CURRENT_LIST_DIR}/support/mcp_server/main.cpp)
target_link_libraries(test_mcp_server PRIVATE caa_test_mcp_server)
caa_target_defaults(test_mcp_server)

add_executable(mcp_unit_test ${CMAKE_CURRENT_LIST_DIR}/unit/mcp_config_test.cpp
                             ${CMAKE_CURRENT_LIST_DIR}/unit/mcp_request_test.cpp
                             ${CMAKE_CURRENT_LIST_DIR}/unit/mcp_tenant_variables_test.cpp
                             ${CMAKE_CURRENT_LIST_DIR}/unit/mcp_test_server_test.cpp)
target_link_libraries(mcp_unit_test PRIVATE caa_api caa_test_mcp_server GTest::gtest_main)
caa_target_defaults(mcp_unit_test)
gtest_discover_tests(mcp_unit_test PROPERTIES LABELS unit)

add_executable(mcp_flow_test ${CMAKE_CURRENT_LIST_DIR}/integration/mcp_flow_test.cpp)
target_link_libraries(mcp_flow_test PRIVATE caa_service_fixture GTest::gtest_main)
caa_target_defaults(mcp_flow_test)
add_dependencies(mcp_flow_test claude-agent-api test_mcp_server)
if(NOT CAA_NO_SCRIPTED_MODEL)
  add_dependencies(mcp_flow_test scripted_model)  # defined after this file is included
endif()
gtest_discover_tests(mcp_flow_test PROPERTIES LABELS integration TIMEOUT 600
                     DISCOVERY_TIMEOUT 60)
