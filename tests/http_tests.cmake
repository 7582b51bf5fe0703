# Tests of transport/http: unit (no sockets) and integration (real sockets on 127.0.0.1).
include(GoogleTest)

foreach(name http_router_test http_error_test http_edge_parts_test sse_test http_edge_failure_test)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/unit/${name}.cpp)
  target_link_libraries(${name} PRIVATE caa_wire GTest::gtest_main)
  caa_target_defaults(${name})
  gtest_discover_tests(${name} PROPERTIES LABELS unit)
endforeach()

add_executable(http_edge_test ${CMAKE_CURRENT_LIST_DIR}/integration/http_edge_test.cpp
                              ${CMAKE_CURRENT_LIST_DIR}/integration/http_edge_stream_test.cpp)
target_link_libraries(http_edge_test PRIVATE caa_api GTest::gtest_main)
caa_target_defaults(http_edge_test)
gtest_discover_tests(http_edge_test PROPERTIES LABELS integration TIMEOUT 120)
