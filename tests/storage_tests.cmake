# Tests of storage/: unit (pure maths and parsers) and integration (real PostgreSQL and Redis
# from DATABASE_URL / REDIS_URL; skipped when unset).
include(GoogleTest)

foreach(name token_bucket_test crypto_test storage_parsers_test request_edge_test)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/unit/${name}.cpp)
  target_link_libraries(${name} PRIVATE caa_storage GTest::gtest_main)
  caa_target_defaults(${name})
  gtest_discover_tests(${name} PROPERTIES LABELS unit)
endforeach()

foreach(name pg_pool_test keys_repo_test redis_test)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/integration/${name}.cpp)
  target_link_libraries(${name} PRIVATE caa_storage caa_test_support GTest::gtest_main)
  caa_target_defaults(${name})
  gtest_discover_tests(${name} PROPERTIES LABELS integration)
endforeach()

# Sessions, events, transcripts and the event writer.
add_executable(session_queries_test ${CMAKE_CURRENT_LIST_DIR}/unit/session_queries_test.cpp)
target_link_libraries(session_queries_test PRIVATE caa_storage GTest::gtest_main)
caa_target_defaults(session_queries_test)
gtest_discover_tests(session_queries_test PROPERTIES LABELS unit)

add_executable(session_repo_test ${CMAKE_CURRENT_LIST_DIR}/integration/session_repo_test.cpp
                                 ${CMAKE_CURRENT_LIST_DIR}/integration/session_turns_test.cpp
                                 ${CMAKE_CURRENT_LIST_DIR}/integration/session_events_test.cpp
                                 ${CMAKE_CURRENT_LIST_DIR}/integration/event_writer_test.cpp
                                 ${CMAKE_CURRENT_LIST_DIR}/integration/session_lease_test.cpp
                                 ${CMAKE_CURRENT_LIST_DIR}/integration/usage_queries_test.cpp)
target_link_libraries(session_repo_test PRIVATE caa_storage caa_test_support GTest::gtest_main)
caa_target_defaults(session_repo_test)
gtest_discover_tests(session_repo_test PROPERTIES LABELS integration)
