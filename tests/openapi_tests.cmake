# Tests of GET /openapi.json: the document against the router (unit, no sockets), and the served
# document and real responses checked by the pinned OpenAPI validator and ajv under node
# (integration; needs DATABASE_URL, REDIS_URL, CLAUDE_CLI_PATH and node, skipped otherwise).
include(GoogleTest)

add_executable(openapi_doc_test ${CMAKE_CURRENT_LIST_DIR}/unit/openapi_doc_test.cpp)
target_link_libraries(openapi_doc_test PRIVATE caa_api GTest::gtest_main)
caa_target_defaults(openapi_doc_test)
gtest_discover_tests(openapi_doc_test PROPERTIES LABELS unit)

# node runs the scripts of tests/openapi; their packages resolve from the node_modules of the
# source tree (scripts/setup.sh installs them).
find_program(CAA_NODE_EXECUTABLE node)
if(NOT CAA_NODE_EXECUTABLE)
  set(CAA_NODE_EXECUTABLE "")
endif()
add_executable(openapi_service_test ${CMAKE_CURRENT_LIST_DIR}/integration/openapi_service_test.cpp
                                    ${CMAKE_CURRENT_LIST_DIR}/integration/session_flow_fixture.cpp)
target_link_libraries(openapi_service_test PRIVATE caa_api caa_service_fixture GTest::gtest_main)
target_compile_definitions(openapi_service_test PRIVATE
  CAA_NODE_EXECUTABLE="${CAA_NODE_EXECUTABLE}"
  CAA_OPENAPI_SCRIPTS="${CMAKE_CURRENT_LIST_DIR}/openapi")
caa_target_defaults(openapi_service_test)
add_dependencies(openapi_service_test claude-agent-api)
if(NOT CAA_NO_SCRIPTED_MODEL)
  add_dependencies(openapi_service_test scripted_model)  # defined after this file is included
endif()
gtest_discover_tests(openapi_service_test PROPERTIES LABELS integration TIMEOUT 300
                     DISCOVERY_TIMEOUT 60)
