# One bounded run of a fuzz target, the ctest test fuzz.<target>:
#
#   cmake -DFUZZER=<binary> -DSEEDS=<committed corpus> -DWORK=<scratch dir>
#         -DARTIFACTS=<dir> -DSECONDS=<n> [-DDICT=<file>] -P run_fuzzer.cmake
#
# libFuzzer writes the inputs it finds into the first corpus directory only:
# that is a fresh directory under WORK, removed afterwards, and the committed
# seeds come second, read and never written. Any crash, leak, timeout, memory
# blow-up or sanitizer report ends the run with a non-zero status and the
# input saved in ARTIFACTS, which fails the test.
foreach(required FUZZER SEEDS WORK ARTIFACTS SECONDS)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "run_fuzzer.cmake needs -D${required}=...")
  endif()
endforeach()

get_filename_component(name "${FUZZER}" NAME)
string(RANDOM LENGTH 12 suffix)
set(corpus "${WORK}/${name}-${suffix}")
file(MAKE_DIRECTORY "${corpus}" "${ARTIFACTS}")

set(arguments
  -max_total_time=${SECONDS}
  -timeout=10              # seconds for one input
  -rss_limit_mb=2048
  -malloc_limit_mb=1024    # one allocation
  -use_value_profile=1
  -print_final_stats=1
  -artifact_prefix=${ARTIFACTS}/${name}-)
if(DICT)
  list(APPEND arguments -dict=${DICT})
endif()
execute_process(COMMAND "${FUZZER}" ${arguments} "${corpus}" "${SEEDS}" RESULT_VARIABLE result)
file(GLOB found "${corpus}/*")
list(LENGTH found found_count)
file(REMOVE_RECURSE "${corpus}")
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${name} failed (${result}); the input that failed is in ${ARTIFACTS}")
endif()
message(STATUS "${name}: ${found_count} new inputs beyond the seeds, discarded")
