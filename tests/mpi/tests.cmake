# Ensemble-runner tests under mpirun, driven by a shell script (see runner_tests.sh).
foreach(mode ranks kill failing)
  add_test(NAME mpi_runner_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/mpi/runner_tests.sh $<TARGET_FILE:fusionhop>
                   ${CMAKE_BINARY_DIR}/mpi_runner_${mode} ${mode})
  set_tests_properties(mpi_runner_${mode} PROPERTIES LABELS "external;mpi" TIMEOUT 600
                       RUN_SERIAL TRUE)
endforeach()
