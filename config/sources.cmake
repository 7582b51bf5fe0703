# Sources of the settings loader, secrets and logger; the lead adds them to `caa_config`
# (next to config/errc.cpp). `caa_config` must link OpenSSL::Crypto (secret.cpp).
set(CAA_CONFIG_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/loader.cpp
    ${CMAKE_CURRENT_LIST_DIR}/logging.cpp
    ${CMAKE_CURRENT_LIST_DIR}/metrics.cpp
    ${CMAKE_CURRENT_LIST_DIR}/metrics_catalog.cpp
    ${CMAKE_CURRENT_LIST_DIR}/parsers.cpp
    ${CMAKE_CURRENT_LIST_DIR}/secret.cpp
    ${CMAKE_CURRENT_LIST_DIR}/tenant_variables.cpp
    ${CMAKE_CURRENT_LIST_DIR}/variables.cpp)
