# Tests of the actors layer.
add_executable(actors_unit_test ${CAA_TESTS_DIR}/unit/admission_test.cpp
                                ${CAA_TESTS_DIR}/unit/admission_book_test.cpp
                                ${CAA_TESTS_DIR}/unit/session_hooks_bound_test.cpp
                                ${CAA_TESTS_DIR}/unit/session_machine_test.cpp
                                ${CAA_TESTS_DIR}/unit/session_process_test.cpp
                                ${CAA_TESTS_DIR}/unit/session_lifecycle_test.cpp
                                ${CAA_TESTS_DIR}/unit/session_machine_order_test.cpp
                                ${CAA_TESTS_DIR}/unit/session_stream_test.cpp
                                ${CAA_TESTS_DIR}/unit/session_retire_test.cpp
                                ${CAA_TESTS_DIR}/unit/session_event_log_test.cpp
                                ${CAA_TESTS_DIR}/unit/registry_drain_test.cpp
                                ${CAA_TESTS_DIR}/unit/request_timeout_test.cpp
                                ${CAA_TESTS_DIR}/unit/warm_pool_clock_test.cpp
                                ${CAA_TESTS_DIR}/unit/capabilities_launch_test.cpp
                                ${CAA_TESTS_DIR}/unit/inline_unit_test.cpp)
target_link_libraries(actors_unit_test PRIVATE caa_actors GTest::gtest_main)
caa_target_defaults(actors_unit_test)
gtest_discover_tests(actors_unit_test PROPERTIES LABELS unit)

# Resuming from the transcript stored in PostgreSQL (real CLI, scripted model, service binary).
add_executable(transcript_restore_test ${CAA_TESTS_DIR}/integration/transcript_restore_test.cpp)
target_link_libraries(transcript_restore_test PRIVATE caa_service_fixture caa_wire
                                                      GTest::gtest_main)
caa_target_defaults(transcript_restore_test)
add_dependencies(transcript_restore_test claude-agent-api scripted_model)
gtest_discover_tests(transcript_restore_test PROPERTIES LABELS integration TIMEOUT 300)

# The service's CLI launcher: starts on a launch thread, real processes (shell fakes).
add_executable(cli_launch_test ${CAA_TESTS_DIR}/integration/cli_launch_test.cpp)
target_link_libraries(cli_launch_test PRIVATE caa_actors GTest::gtest_main)
caa_target_defaults(cli_launch_test)
gtest_discover_tests(cli_launch_test PROPERTIES LABELS integration TIMEOUT 120)

# The cluster's node directory and membership table (unit, no Redis, no sockets).
add_executable(cluster_members_test ${CAA_TESTS_DIR}/unit/cluster_members_test.cpp)
target_link_libraries(cluster_members_test PRIVATE caa_actors GTest::gtest_main)
caa_target_defaults(cluster_members_test)
gtest_discover_tests(cluster_members_test PROPERTIES LABELS unit)

# The stand-in for a session served by another node (unit, test coordinator, no sockets).
add_executable(session_forwarder_test ${CAA_TESTS_DIR}/unit/session_forwarder_test.cpp)
target_link_libraries(session_forwarder_test PRIVATE caa_actors GTest::gtest_main)
caa_target_defaults(session_forwarder_test)
gtest_discover_tests(session_forwarder_test PROPERTIES LABELS unit)

# Two nodes in one process: hello, finding a session over the link, a forwarder to it and a
# subscription across the link (BASP on 127.0.0.1 only, ports chosen by the system). Labelled
# integration: it opens loopback sockets and polls, which the unit label rules out.
add_executable(cluster_link_test ${CAA_TESTS_DIR}/unit/cluster_link_test.cpp)
target_link_libraries(cluster_link_test PRIVATE caa_actors GTest::gtest_main)
caa_target_defaults(cluster_link_test)
gtest_discover_tests(cluster_link_test PROPERTIES LABELS integration TIMEOUT 120)

# Cluster membership against service processes on 127.0.0.1 (integration: PostgreSQL, Redis).
add_executable(cluster_test ${CAA_TESTS_DIR}/integration/cluster_test.cpp)
target_link_libraries(cluster_test PRIVATE caa_service_fixture caa_actors GTest::gtest_main)
caa_target_defaults(cluster_test)
add_dependencies(cluster_test claude-agent-api)
gtest_discover_tests(cluster_test PROPERTIES LABELS integration TIMEOUT 300)
