# Sources of transport/outbound, included by transport/CMakeLists.txt into the `caa_transport`
# library.
set(CAA_TRANSPORT_OUTBOUND_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/address.cpp
  ${CMAKE_CURRENT_LIST_DIR}/client.cpp
  ${CMAKE_CURRENT_LIST_DIR}/exchange.cpp
  ${CMAKE_CURRENT_LIST_DIR}/url.cpp
)
