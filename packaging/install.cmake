# Install rules of packaging/ (included from the top CMakeLists.txt), COMPONENT gpuplex:
#  - PREFIX/lib/systemd/system/gpuplexd.service, from gpuplexd.service.in;
#  - the commented example config as DOCDIR/examples/gpuplexd.conf, always;
#  - the same file as /etc/gpuplex/gpuplexd.conf, only where the sysconfdir is /etc
#    (PREFIX /usr, as packages and `make install PREFIX=/usr` have it), and never over
#    an existing one (an operator's edits survive a reinstall).
# gpuplexd reads /etc/gpuplex/gpuplexd.conf whatever its prefix (GPXD_DEFAULT_CONFIG)
# and the file is optional, so `make install PREFIX=/usr/local` writes nothing outside
# its prefix: the example under DOCDIR is there to copy.
#
# The unit is made at install time, not configure time, so that its ExecStart= names
# the gpuplexd this very install writes, also under `cmake --install --prefix P` with
# a prefix other than the configured one.

install(FILES ${CMAKE_CURRENT_LIST_DIR}/gpuplexd.conf
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT gpuplex)

install(CODE "
  # the install-time prefix (CMAKE_INSTALL_PREFIX here is --prefix or the configured one)
  set(_gpx_prefix \"\${CMAKE_INSTALL_PREFIX}\")
  set(_gpx_rel_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")
  set(_gpx_rel_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")
  foreach(_gpx_d SBINDIR DOCDIR)
    set(_gpx_rel \"\${_gpx_rel_\${_gpx_d}}\")
    if(IS_ABSOLUTE \"\${_gpx_rel}\")
      set(CMAKE_INSTALL_FULL_\${_gpx_d} \"\${_gpx_rel}\")
    else()
      set(CMAKE_INSTALL_FULL_\${_gpx_d} \"\${_gpx_prefix}/\${_gpx_rel}\")
    endif()
  endforeach()
  configure_file(\"${CMAKE_CURRENT_LIST_DIR}/gpuplexd.service.in\"
                 \"${CMAKE_BINARY_DIR}/packaging/gpuplexd.service\" @ONLY)
  file(INSTALL \"${CMAKE_BINARY_DIR}/packaging/gpuplexd.service\"
       DESTINATION \"\${_gpx_prefix}/lib/systemd/system\"
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  # GNUInstallDirs' rule: sysconfdir is /etc for the prefix /usr, else PREFIX/etc
  if(\"\${_gpx_prefix}\" STREQUAL \"/usr\" OR \"${CMAKE_INSTALL_SYSCONFDIR}\" STREQUAL \"/etc\")
    if(EXISTS \"\$ENV{DESTDIR}/etc/gpuplex/gpuplexd.conf\")
      message(STATUS \"Kept: \$ENV{DESTDIR}/etc/gpuplex/gpuplexd.conf (exists)\")
    else()
      file(INSTALL \"${CMAKE_CURRENT_LIST_DIR}/gpuplexd.conf\" DESTINATION \"/etc/gpuplex\"
           PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    endif()
  endif()
" COMPONENT gpuplex)
