# Sources of transport/api and transport/json, included into caa_transport.
list(APPEND CAA_TRANSPORT_API_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/auth.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../json/json.cpp)
