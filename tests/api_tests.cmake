# Tests of transport/api and transport/json.
add_executable(api_unit_test ${CAA_TESTS_DIR}/unit/json_test.cpp ${CAA_TESTS_DIR}/unit/auth_test.cpp)
target_link_libraries(api_unit_test PRIVATE caa_api GTest::gtest_main)
caa_target_defaults(api_unit_test)
gtest_discover_tests(api_unit_test PROPERTIES LABELS unit)

# Tests of the API event codec (transport/json): the wire layer only.
add_executable(event_codec_test ${CAA_TESTS_DIR}/unit/event_mapper_test.cpp
                                ${CAA_TESTS_DIR}/unit/api_events_test.cpp)
target_link_libraries(event_codec_test PRIVATE caa_wire GTest::gtest_main)
caa_target_defaults(event_codec_test)
gtest_discover_tests(event_codec_test PROPERTIES LABELS unit)

# Black-box tests of the service binary (needs DATABASE_URL and REDIS_URL; skipped otherwise).
add_executable(service_test ${CAA_TESTS_DIR}/integration/service_test.cpp)
target_link_libraries(service_test PRIVATE caa_service_fixture GTest::gtest_main)
caa_target_defaults(service_test)
add_dependencies(service_test claude-agent-api)
gtest_discover_tests(service_test PROPERTIES LABELS integration TIMEOUT 300)

# Hostile clients against the service binary (integration).
add_executable(hardening_test ${CAA_TESTS_DIR}/integration/hardening_test.cpp)
target_link_libraries(hardening_test PRIVATE caa_service_fixture GTest::gtest_main)
caa_target_defaults(hardening_test)
add_dependencies(hardening_test claude-agent-api)
gtest_discover_tests(hardening_test PROPERTIES LABELS integration TIMEOUT 300)

# The edge's rate limiter against the real Redis (REDIS_URL; the Redis tests skip without it).
add_executable(limiter_test ${CAA_TESTS_DIR}/integration/limiter_test.cpp)
target_link_libraries(limiter_test PRIVATE caa_api caa_service_fixture GTest::gtest_main)
caa_target_defaults(limiter_test)
gtest_discover_tests(limiter_test PROPERTIES LABELS integration)
