# Interactive control (permission prompts, questions, live changes, webhooks, checkpoints and
# rewind) against the service binary, the real CLI and the scripted model (integration).
include(GoogleTest)

add_executable(control_flow_test ${CMAKE_CURRENT_LIST_DIR}/integration/control_flow_test.cpp
                                 ${CMAKE_CURRENT_LIST_DIR}/integration/control_hooks_test.cpp
                                 ${CMAKE_CURRENT_LIST_DIR}/integration/control_hardening_test.cpp
                                 ${CMAKE_CURRENT_LIST_DIR}/integration/session_flow_fixture.cpp)
target_link_libraries(control_flow_test PRIVATE caa_service_fixture Boost::headers
                                                GTest::gtest_main)
caa_target_defaults(control_flow_test)
add_dependencies(control_flow_test claude-agent-api)
if(NOT CAA_NO_SCRIPTED_MODEL)
  add_dependencies(control_flow_test scripted_model)
endif()
gtest_discover_tests(control_flow_test PROPERTIES LABELS integration TIMEOUT 600
                     DISCOVERY_TIMEOUT 60)

# The warm pool against the service binary (integration).
add_executable(warm_pool_test ${CMAKE_CURRENT_LIST_DIR}/integration/warm_pool_test.cpp
                              ${CMAKE_CURRENT_LIST_DIR}/integration/session_flow_fixture.cpp)
target_link_libraries(warm_pool_test PRIVATE caa_service_fixture GTest::gtest_main)
caa_target_defaults(warm_pool_test)
add_dependencies(warm_pool_test claude-agent-api)
if(NOT CAA_NO_SCRIPTED_MODEL)
  add_dependencies(warm_pool_test scripted_model)
endif()
gtest_discover_tests(warm_pool_test PROPERTIES LABELS integration TIMEOUT 600
                     DISCOVERY_TIMEOUT 60)
