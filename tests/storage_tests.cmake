# Tests of storage/: unit (pure maths and parsers) and integration (real PostgreSQL and Redis
# from DATABASE_URL / REDIS_URL; skipped when unset).
include(GoogleTest)

foreach(name token_bucket_test crypto_test storage_parsers_test)
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
