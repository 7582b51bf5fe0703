# The smoke of the benchmark harness (bench/smoke.sh): the service with the fake CLI and a few
# seconds of the load client; checks that events arrived and the JSON was written, never a time.
# Needs DATABASE_URL and CAA_PG_PORT (`make test` sets them), skipped otherwise.
add_test(NAME bench_smoke
         COMMAND bash ${PROJECT_SOURCE_DIR}/bench/smoke.sh $<TARGET_FILE_DIR:load_client>)
set_tests_properties(bench_smoke PROPERTIES LABELS "integration;bench_smoke" SKIP_RETURN_CODE 77
                     TIMEOUT 180)
