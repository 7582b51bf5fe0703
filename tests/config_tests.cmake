# Unit tests of config/: the settings loader, secrets and the logger.
include(GoogleTest)

add_executable(config_test ${CMAKE_CURRENT_LIST_DIR}/unit/config_test.cpp
                           ${CMAKE_CURRENT_LIST_DIR}/unit/config_parsers_test.cpp)
target_link_libraries(config_test PRIVATE caa_config GTest::gtest_main)
target_compile_definitions(config_test PRIVATE
  CAA_SETTINGS_HPP="${CMAKE_CURRENT_LIST_DIR}/../config/settings.hpp")
caa_target_defaults(config_test)
gtest_discover_tests(config_test PROPERTIES LABELS unit)

add_executable(logging_test ${CMAKE_CURRENT_LIST_DIR}/unit/logging_test.cpp)
target_link_libraries(logging_test PRIVATE caa_config rapidjson GTest::gtest_main)
caa_target_defaults(logging_test)
gtest_discover_tests(logging_test PROPERTIES LABELS unit)

add_executable(json_input_test ${CMAKE_CURRENT_LIST_DIR}/unit/json_input_test.cpp)
target_link_libraries(json_input_test PRIVATE caa_config rapidjson GTest::gtest_main)
caa_target_defaults(json_input_test)
gtest_discover_tests(json_input_test PROPERTIES LABELS unit)
