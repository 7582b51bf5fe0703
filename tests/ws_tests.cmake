# Tests of the WebSocket API: frame codec and tickets (unit), and the whole protocol against
# the service binary, the real CLI and the scripted model (integration; needs DATABASE_URL,
# REDIS_URL and CLAUDE_CLI_PATH, skipped otherwise).
include(GoogleTest)

foreach(name ws_frames_test ws_tickets_test)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/unit/${name}.cpp)
  target_link_libraries(${name} PRIVATE caa_api GTest::gtest_main)
  caa_target_defaults(${name})
  gtest_discover_tests(${name} PROPERTIES LABELS unit)
endforeach()

add_executable(ws_api_test ${CMAKE_CURRENT_LIST_DIR}/integration/ws_api_test.cpp
                           ${CMAKE_CURRENT_LIST_DIR}/integration/session_flow_fixture.cpp)
target_link_libraries(ws_api_test PRIVATE caa_service_fixture GTest::gtest_main)
caa_target_defaults(ws_api_test)
add_dependencies(ws_api_test claude-agent-api)
if(NOT CAA_NO_SCRIPTED_MODEL)
  add_dependencies(ws_api_test scripted_model)  # defined after this file is included
endif()
gtest_discover_tests(ws_api_test PROPERTIES LABELS integration TIMEOUT 600 DISCOVERY_TIMEOUT 60)
