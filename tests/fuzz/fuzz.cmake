# libFuzzer targets (docs/FUZZING.md), one executable per tests/fuzz/<name>.cpp.
#   * CAA_FUZZ=ON (clang, preset `fuzz`): linked with libFuzzer's main, ASan and UBSan; the
#     libraries are instrumented by the top-level CMakeLists.txt. Run them with `make fuzz`.
#   * otherwise (the normal build): linked with replay_main.cpp and registered with ctest (label
#     unit) to replay the target's seed corpus tests/fuzz/corpus/<name>/, so `make test` replays
#     every corpus on every run.
set(CAA_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
set(CAA_FUZZ_LIBFUZZER OFF)
if(CAA_FUZZ AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  set(CAA_FUZZ_LIBFUZZER ON)
  add_custom_target(caa_fuzz_targets)
endif()

# caa_fuzz_target(<name> <libraries>...): tests/fuzz/<name>.cpp linked with <libraries>.
function(caa_fuzz_target name)
  if(CAA_FUZZ_LIBFUZZER)
    # claude_tests.cmake declares line_framer_fuzz itself in the fuzz build: reuse it.
    if(NOT TARGET ${name})
      add_executable(${name} ${CAA_FUZZ_DIR}/${name}.cpp)
      target_link_libraries(${name} PRIVATE ${ARGN})
      target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined
                                             -fno-omit-frame-pointer)
      target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
      caa_target_defaults(${name})
    endif()
    add_dependencies(caa_fuzz_targets ${name})
  else()
    add_executable(${name} ${CAA_FUZZ_DIR}/${name}.cpp ${CAA_FUZZ_DIR}/replay_main.cpp)
    target_link_libraries(${name} PRIVATE ${ARGN})
    caa_target_defaults(${name})
    add_test(NAME fuzz_replay_${name} COMMAND ${name} ${CAA_FUZZ_DIR}/corpus/${name})
    set_tests_properties(fuzz_replay_${name} PROPERTIES LABELS unit TIMEOUT 120)
  endif()
endfunction()

caa_fuzz_target(json_input_fuzz caa_config)
caa_fuzz_target(api_decode_fuzz caa_api)
caa_fuzz_target(cli_line_fuzz caa_wire)
caa_fuzz_target(outbound_guard_fuzz caa_wire)
caa_fuzz_target(event_cursor_fuzz caa_api)
caa_fuzz_target(http_request_fuzz caa_wire)
caa_fuzz_target(line_framer_fuzz caa_wire)
