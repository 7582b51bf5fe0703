# Tests of the actors layer.
add_executable(actors_unit_test ${CAA_TESTS_DIR}/unit/event_mapper_test.cpp
                                ${CAA_TESTS_DIR}/unit/admission_test.cpp)
target_link_libraries(actors_unit_test PRIVATE caa_actors GTest::gtest_main)
caa_target_defaults(actors_unit_test)
gtest_discover_tests(actors_unit_test PROPERTIES LABELS unit)
