# The turn request (decode + validation) and tenancy on disk, compiled into `caa_transport`.
list(APPEND CAA_TRANSPORT_API_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/query_request.cpp
  ${CMAKE_CURRENT_LIST_DIR}/query_decode_util.cpp
  ${CMAKE_CURRENT_LIST_DIR}/query_decode_core.cpp
  ${CMAKE_CURRENT_LIST_DIR}/query_decode_ext.cpp
  ${CMAKE_CURRENT_LIST_DIR}/query_decode_remote.cpp
  ${CMAKE_CURRENT_LIST_DIR}/query_options_map.cpp
  ${CMAKE_CURRENT_LIST_DIR}/workspace.cpp)
