# The Claude Code CLI driver, compiled into `caa_transport` (see transport/CMakeLists.txt).
set(CAA_TRANSPORT_CLAUDE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/argv.cpp
  ${CMAKE_CURRENT_LIST_DIR}/control.cpp
  ${CMAKE_CURRENT_LIST_DIR}/control_classify.cpp
  ${CMAKE_CURRENT_LIST_DIR}/json_text.cpp
  ${CMAKE_CURRENT_LIST_DIR}/line_framer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/mcp_config.cpp
  ${CMAKE_CURRENT_LIST_DIR}/options.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process_core.cpp
  ${CMAKE_CURRENT_LIST_DIR}/result_figures.cpp
  ${CMAKE_CURRENT_LIST_DIR}/spawn.cpp
)
