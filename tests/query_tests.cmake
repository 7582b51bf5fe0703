# Tests of the turn request decoder and of tenancy on disk (transport/api).
include(GoogleTest)

add_executable(query_request_test ${CMAKE_CURRENT_LIST_DIR}/unit/query_request_test.cpp
                                  ${CMAKE_CURRENT_LIST_DIR}/unit/query_request_fields_test.cpp
                                  ${CMAKE_CURRENT_LIST_DIR}/unit/query_request_remote_test.cpp)
add_executable(workspace_test ${CMAKE_CURRENT_LIST_DIR}/unit/workspace_test.cpp)
foreach(name query_request_test workspace_test)
  target_link_libraries(${name} PRIVATE caa_api GTest::gtest_main)
  caa_target_defaults(${name})
  gtest_discover_tests(${name} PROPERTIES LABELS unit)
endforeach()
