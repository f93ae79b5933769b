# The installable package: `cmake --install build --prefix P` puts the libraries, the headers
# (under include/stepjit) and a CMake package config in P, so another project does
#   find_package(stepjit REQUIRED)   and links   stepjit::stepjit
# with `#include <stepjit.h>`.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# `stepjit` is the CLI's target name; the library is stepjit_lib, exported as stepjit::stepjit.
add_library(stepjit_lib INTERFACE)
target_link_libraries(stepjit_lib INTERFACE sj_frontend sj_runtime)
set_target_properties(stepjit_lib PROPERTIES EXPORT_NAME stepjit)
add_library(stepjit::stepjit ALIAS stepjit_lib)

install(TARGETS stepjit RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS stepjit_lib sj_graph sj_passes sj_kernels sj_codegen sj_frontend sj_runtime
        EXPORT stepjitTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY graph passes kernels codegen runtime frontend
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/stepjit
        FILES_MATCHING PATTERN "*.h" PATTERN "*.def")
install(FILES stepjit.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/stepjit)
install(EXPORT stepjitTargets NAMESPACE stepjit::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/stepjit)
configure_package_config_file(cmake/stepjitConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/stepjitConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/stepjit)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/stepjitConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/stepjitConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/stepjitConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/stepjit)
