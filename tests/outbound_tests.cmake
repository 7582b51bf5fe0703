# Tests of transport/outbound: the SSRF guard (unit, no sockets) and the client against local
# servers on 127.0.0.1 (integration).
include(GoogleTest)

add_executable(outbound_guard_test ${CMAKE_CURRENT_LIST_DIR}/unit/outbound_guard_test.cpp)
target_link_libraries(outbound_guard_test PRIVATE caa_wire GTest::gtest_main)
caa_target_defaults(outbound_guard_test)
gtest_discover_tests(outbound_guard_test PROPERTIES LABELS unit)

add_executable(outbound_client_test ${CMAKE_CURRENT_LIST_DIR}/integration/outbound_client_test.cpp)
target_link_libraries(outbound_client_test PRIVATE caa_wire GTest::gtest_main)
caa_target_defaults(outbound_client_test)
gtest_discover_tests(outbound_client_test PROPERTIES LABELS integration TIMEOUT 120)
