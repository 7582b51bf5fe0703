# Sources of transport/sandbox (the agent sandbox), included by transport/CMakeLists.txt into
# the `caa_transport` library.
set(CAA_TRANSPORT_SANDBOX_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/bwrap_plan.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cgroup.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cgroup_detect.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cgroup_io.cpp
  ${CMAKE_CURRENT_LIST_DIR}/egress_endpoint.cpp
  ${CMAKE_CURRENT_LIST_DIR}/egress_proxy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/egress_rules.cpp
  ${CMAKE_CURRENT_LIST_DIR}/egress_splice.cpp
  ${CMAKE_CURRENT_LIST_DIR}/egress_tunnel.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_checks.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model_proxy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/proxy_connection.cpp
  ${CMAKE_CURRENT_LIST_DIR}/proxy_endpoint.cpp
  ${CMAKE_CURRENT_LIST_DIR}/proxy_relay.cpp
  ${CMAKE_CURRENT_LIST_DIR}/proxy_rules.cpp
  ${CMAKE_CURRENT_LIST_DIR}/proxy_upstream.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sandbox.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tenant_files.cpp
  ${CMAKE_CURRENT_LIST_DIR}/usage_scanner.cpp
)
