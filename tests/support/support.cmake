# caa_test_support: fixtures shared by the test executables (scratch PostgreSQL database,
# service URLs from the environment, an actor-system config with the storage types).
add_library(caa_test_support STATIC ${CMAKE_CURRENT_LIST_DIR}/pg_fixture.cpp)
target_link_libraries(caa_test_support PUBLIC caa_storage caf_core PkgConfig::PQXX)
caa_target_defaults(caa_test_support)

# Black-box fixtures: the service binary as a child process, an HTTP client, a fault proxy.
add_library(caa_service_fixture STATIC ${CMAKE_CURRENT_LIST_DIR}/service_fixture.cpp
                                       ${CMAKE_CURRENT_LIST_DIR}/http_client.cpp
                                       ${CMAKE_CURRENT_LIST_DIR}/proc_scan.cpp
                                       ${CMAKE_CURRENT_LIST_DIR}/ws_client.cpp)
target_link_libraries(caa_service_fixture PUBLIC caa_test_support Boost::headers Threads::Threads)
caa_target_defaults(caa_service_fixture)
