# Sources of transport/api and transport/json, included into caa_transport.
list(APPEND CAA_TRANSPORT_API_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/auth.cpp
  ${CMAKE_CURRENT_LIST_DIR}/health.cpp
  ${CMAKE_CURRENT_LIST_DIR}/keys.cpp
  ${CMAKE_CURRENT_LIST_DIR}/limiter.cpp
  ${CMAKE_CURRENT_LIST_DIR}/metrics_route.cpp
  ${CMAKE_CURRENT_LIST_DIR}/responses.cpp
  ${CMAKE_CURRENT_LIST_DIR}/routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../json/json.cpp)
include(${CMAKE_CURRENT_LIST_DIR}/query_sources.cmake OPTIONAL)
# The agent-session routes and their event sinks.
list(APPEND CAA_TRANSPORT_API_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/control_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/event_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/query_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/session_flow.cpp
  ${CMAKE_CURRENT_LIST_DIR}/session_json.cpp
  ${CMAKE_CURRENT_LIST_DIR}/session_ops.cpp
  ${CMAKE_CURRENT_LIST_DIR}/session_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sessions.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sse_sink.cpp
  ${CMAKE_CURRENT_LIST_DIR}/turn_builder.cpp)
# The WebSocket routes.
list(APPEND CAA_TRANSPORT_API_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/ws_connection.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ws_frames.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ws_ops.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ws_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ws_tickets.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ws_turn.cpp)
