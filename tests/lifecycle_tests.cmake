# Lifecycle of agent sessions against the service binary, the real CLI and the scripted model:
# hibernation and resume, restart and kill -9 recovery, interrupts that kill tool processes,
# the child's environment, admission, the turn timeout and the SIGTERM drain. Every test starts
# its own service process (integration; needs DATABASE_URL, REDIS_URL and CLAUDE_CLI_PATH,
# skipped otherwise).
include(GoogleTest)

add_executable(session_lifecycle_test
               ${CMAKE_CURRENT_LIST_DIR}/integration/session_lifecycle_test.cpp
               ${CMAKE_CURRENT_LIST_DIR}/integration/session_limits_test.cpp
               ${CMAKE_CURRENT_LIST_DIR}/integration/event_durability_test.cpp)
target_link_libraries(session_lifecycle_test PRIVATE caa_service_fixture GTest::gtest_main)
caa_target_defaults(session_lifecycle_test)
add_dependencies(session_lifecycle_test claude-agent-api)
if(NOT CAA_NO_SCRIPTED_MODEL)
  add_dependencies(session_lifecycle_test scripted_model)  # defined after this file is included
endif()
gtest_discover_tests(session_lifecycle_test PROPERTIES LABELS integration TIMEOUT 600
                     DISCOVERY_TIMEOUT 60)

# Sessions across three nodes of a cluster: forwarding, takeover of a killed node's sessions,
# fencing of a paused node (needs DATABASE_URL, REDIS_URL and CLAUDE_CLI_PATH).
add_executable(cluster_sessions_test ${CMAKE_CURRENT_LIST_DIR}/integration/cluster_sessions_test.cpp)
target_link_libraries(cluster_sessions_test PRIVATE caa_service_fixture GTest::gtest_main)
caa_target_defaults(cluster_sessions_test)
add_dependencies(cluster_sessions_test claude-agent-api)
if(NOT CAA_NO_SCRIPTED_MODEL)
  add_dependencies(cluster_sessions_test scripted_model)
endif()
gtest_discover_tests(cluster_sessions_test PROPERTIES LABELS integration TIMEOUT 600
                     DISCOVERY_TIMEOUT 60)

# Faults of a cluster: Redis down and back (a private redis-server the test starts), a node killed
# while a client streams its session through another node (needs DATABASE_URL, REDIS_URL,
# CLAUDE_CLI_PATH and redis-server).
add_executable(cluster_faults_test ${CMAKE_CURRENT_LIST_DIR}/integration/cluster_faults_test.cpp)
target_link_libraries(cluster_faults_test PRIVATE caa_service_fixture GTest::gtest_main)
caa_target_defaults(cluster_faults_test)
add_dependencies(cluster_faults_test claude-agent-api)
if(NOT CAA_NO_SCRIPTED_MODEL)
  add_dependencies(cluster_faults_test scripted_model)
endif()
gtest_discover_tests(cluster_faults_test PROPERTIES LABELS integration TIMEOUT 600
                     DISCOVERY_TIMEOUT 60)
