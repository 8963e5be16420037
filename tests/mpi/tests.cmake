# Ensemble-runner tests under mpirun, driven by a shell script (see runner_tests.sh).
foreach(mode ranks kill failing)
  add_test(NAME mpi_runner_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/mpi/runner_tests.sh $<TARGET_FILE:fusionhop>
                   ${CMAKE_BINARY_DIR}/mpi_runner_${mode} ${mode})
  set_tests_properties(mpi_runner_${mode} PROPERTIES LABELS "external;mpi" TIMEOUT 600
                       RUN_SERIAL TRUE)
endforeach()
# The molecular path (ML provider, Wigner sampling) under mpirun: runner_ml_tests.sh; the model is
# fitted once by the fixture test mpi_runner_ml_model.
add_test(NAME mpi_runner_ml_model
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/mpi/runner_ml_tests.sh $<TARGET_FILE:fusionhop>
                 $<TARGET_FILE:runner_model> ${CMAKE_BINARY_DIR}/mpi_runner_ml_model_ model)
set_tests_properties(mpi_runner_ml_model PROPERTIES LABELS "external;mpi" TIMEOUT 300
                     FIXTURES_SETUP runner_ml_model)
foreach(mode ranks range kill stale ioerror spread)
  add_test(NAME mpi_runner_ml_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/mpi/runner_ml_tests.sh $<TARGET_FILE:fusionhop>
                   $<TARGET_FILE:runner_model> ${CMAKE_BINARY_DIR}/mpi_runner_ml_${mode} ${mode})
  set_tests_properties(mpi_runner_ml_${mode} PROPERTIES LABELS "external;mpi" TIMEOUT 600
                       RUN_SERIAL TRUE FIXTURES_REQUIRED runner_ml_model)
endforeach()
