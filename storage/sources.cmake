# The sources of the caa_storage library. Include storage/migrations.cmake as well: it appends
# the generated .cpp with the embedded SQL migrations.
list(APPEND CAA_STORAGE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/crypto.cpp
  ${CMAKE_CURRENT_LIST_DIR}/postgres/checkpoint_queries.cpp
  ${CMAKE_CURRENT_LIST_DIR}/postgres/conninfo.cpp
  ${CMAKE_CURRENT_LIST_DIR}/postgres/key_repository.cpp
  ${CMAKE_CURRENT_LIST_DIR}/postgres/key_queries.cpp
  ${CMAKE_CURRENT_LIST_DIR}/postgres/migrations.cpp
  ${CMAKE_CURRENT_LIST_DIR}/postgres/pg_pool.cpp
  ${CMAKE_CURRENT_LIST_DIR}/postgres/pg_worker.cpp
  ${CMAKE_CURRENT_LIST_DIR}/postgres/statements.cpp
  ${CMAKE_CURRENT_LIST_DIR}/redis/rate_limit.cpp
  ${CMAKE_CURRENT_LIST_DIR}/redis/redis_pool.cpp
  ${CMAKE_CURRENT_LIST_DIR}/redis/redis_worker.cpp
  ${CMAKE_CURRENT_LIST_DIR}/redis/token_bucket.cpp
  ${CMAKE_CURRENT_LIST_DIR}/postgres/event_queries.cpp
  ${CMAKE_CURRENT_LIST_DIR}/postgres/event_writer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/postgres/pg_text.cpp
  ${CMAKE_CURRENT_LIST_DIR}/postgres/session_queries.cpp
  ${CMAKE_CURRENT_LIST_DIR}/postgres/session_repository.cpp
)
