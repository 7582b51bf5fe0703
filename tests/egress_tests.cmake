# Tests of the sandbox's egress: the allow-list and request rules (unit, no sockets), and the
# egress proxy and caa-sandbox-relay over temp-dir unix sockets and 127.0.0.1 (integration).
include(GoogleTest)

add_executable(egress_allow_test ${CMAKE_CURRENT_LIST_DIR}/unit/egress_allow_test.cpp)
target_link_libraries(egress_allow_test PRIVATE caa_wire GTest::gtest_main)
caa_target_defaults(egress_allow_test)
gtest_discover_tests(egress_allow_test PROPERTIES LABELS unit)

add_executable(egress_proxy_test
  ${CMAKE_CURRENT_LIST_DIR}/integration/egress_proxy_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/integration/egress_relay_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/integration/egress_test_support.cpp)
target_link_libraries(egress_proxy_test PRIVATE caa_wire GTest::gtest_main)
caa_target_defaults(egress_proxy_test)
add_dependencies(egress_proxy_test caa-sandbox-relay)  # started from the test binary's dir
gtest_discover_tests(egress_proxy_test PROPERTIES LABELS integration TIMEOUT 120)
