# Tests of transport/sandbox, the model proxy: the usage scanner and the proxy's rules (unit, no
# sockets), and the proxy between unix-socket clients and loopback upstreams (integration; the
# scripted model and the real CLI are used when found, see model_proxy_cli_test.cpp).
include(GoogleTest)

add_executable(usage_scanner_test ${CMAKE_CURRENT_LIST_DIR}/unit/usage_scanner_test.cpp)
target_link_libraries(usage_scanner_test PRIVATE caa_wire GTest::gtest_main)
caa_target_defaults(usage_scanner_test)
gtest_discover_tests(usage_scanner_test PROPERTIES LABELS unit)

add_executable(model_proxy_rules_test ${CMAKE_CURRENT_LIST_DIR}/unit/model_proxy_rules_test.cpp)
target_link_libraries(model_proxy_rules_test PRIVATE caa_wire GTest::gtest_main)
caa_target_defaults(model_proxy_rules_test)
gtest_discover_tests(model_proxy_rules_test PROPERTIES LABELS unit)

add_executable(model_proxy_test
  ${CMAKE_CURRENT_LIST_DIR}/integration/model_proxy_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/integration/model_proxy_lifecycle_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/integration/model_proxy_cli_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/integration/model_proxy_support.cpp
  ${CMAKE_CURRENT_LIST_DIR}/support/scripted_model/test_support.cpp)
target_link_libraries(model_proxy_test PRIVATE caa_wire GTest::gtest_main)
caa_target_defaults(model_proxy_test)
if(NOT CAA_NO_SCRIPTED_MODEL)
  add_dependencies(model_proxy_test scripted_model)  # defined after this file is included
endif()
gtest_discover_tests(model_proxy_test PROPERTIES LABELS integration TIMEOUT 300
                     DISCOVERY_TIMEOUT 60)
