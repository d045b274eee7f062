# `cmake --install` puts the public headers, libcairn, cairn, cairnd and a package config under
# the prefix, so that an outside project can find_package(Cairn).
include(CMakePackageConfigHelpers)

install(DIRECTORY include/cairn DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# libcairn is one static library per layer; Cairn::cairn (the top, libcairn.a) links the rest, and
# Cairn::testing holds the migration-testing helpers of <cairn/testing.hpp>.
install(TARGETS cairn_foundation cairn_storage cairn_merge cairn_crdt cairn_protocol cairn_store cairn_sync
                cairn_testing EXPORT CairnTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS cairn_cli_tool cairnd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT CairnTargets NAMESPACE Cairn:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Cairn)

configure_package_config_file(cmake/CairnConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/CairnConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Cairn)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/CairnConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/CairnConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/CairnConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Cairn)
