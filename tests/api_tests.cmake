# Tests of transport/api and transport/json.
add_executable(api_unit_test ${CAA_TESTS_DIR}/unit/json_test.cpp ${CAA_TESTS_DIR}/unit/auth_test.cpp)
target_link_libraries(api_unit_test PRIVATE caa_transport GTest::gtest_main)
caa_target_defaults(api_unit_test)
gtest_discover_tests(api_unit_test PROPERTIES LABELS unit)
