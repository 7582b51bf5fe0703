# Warnings as errors for our own code; third-party headers are system headers.
function(caa_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-unused-parameter
                                           -Werror=switch -Werror=unused-result)
  # GCC 12 at -O3 (the Release build of `make bench`) reports false positives of its flow
  # analysis inside libstdc++ (e.g. stringop-overflow in char_traits): warnings, not errors.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-error=stringop-overflow -Wno-error=array-bounds
                                             -Wno-error=restrict -Wno-error=maybe-uninitialized)
  endif()
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()

if(CAA_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
