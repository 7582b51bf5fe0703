# Tests of the metrics: the registry and its text format (unit), and `GET /metrics` of the
# service binary after real requests and a real turn (integration; needs DATABASE_URL, REDIS_URL,
# CLAUDE_CLI_PATH and the scripted_model, skipped otherwise).
include(GoogleTest)

add_executable(metrics_unit_test ${CMAKE_CURRENT_LIST_DIR}/unit/metrics_registry_test.cpp
                                 ${CMAKE_CURRENT_LIST_DIR}/unit/metrics_text_test.cpp)
target_link_libraries(metrics_unit_test PRIVATE caa_config GTest::gtest_main)
caa_target_defaults(metrics_unit_test)
gtest_discover_tests(metrics_unit_test PROPERTIES LABELS unit)

add_executable(metrics_test ${CMAKE_CURRENT_LIST_DIR}/integration/metrics_test.cpp)
target_link_libraries(metrics_test PRIVATE caa_service_fixture GTest::gtest_main)
caa_target_defaults(metrics_test)
add_dependencies(metrics_test claude-agent-api)
if(NOT CAA_NO_SCRIPTED_MODEL)
  add_dependencies(metrics_test scripted_model)  # defined after this file is included
endif()
gtest_discover_tests(metrics_test PROPERTIES LABELS integration TIMEOUT 600
                     DISCOVERY_TIMEOUT 60)
