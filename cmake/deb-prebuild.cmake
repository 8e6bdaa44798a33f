# CPack pre-build script (cmake/packaging.cmake): run once the components are
# installed into CPack's staging tree and before the packages are made, over the
# staged files themselves, whatever install rules put there.
# - conffiles: the gpuplex package's files under /etc, so that dpkg keeps an
#   operator's edits on upgrade and leaves them on remove (Debian policy 10.7.3).
#   An empty list is valid.
# - man pages compressed (gzip -9n: no name or time, reproducible), as Debian's are
#   (policy 12.1); man reads both, so `make install` leaves them plain.
set(_root ${CPACK_TEMPORARY_DIRECTORY}/gpuplex)
file(GLOB_RECURSE _etc LIST_DIRECTORIES false RELATIVE ${_root} ${_root}/etc/*)
list(SORT _etc)
set(_list "")
foreach(_f IN LISTS _etc)
  string(APPEND _list "/${_f}\n")
endforeach()
file(WRITE ${CPACK_GPUPLEX_DEB_CONFFILES} "${_list}")

foreach(_comp IN LISTS CPACK_COMPONENTS_ALL)
  file(GLOB_RECURSE _man LIST_DIRECTORIES false
       ${CPACK_TEMPORARY_DIRECTORY}/${_comp}${CPACK_PACKAGING_INSTALL_PREFIX}/share/man/man*/*.[1-9])
  foreach(_f IN LISTS _man)
    execute_process(COMMAND gzip -9nf ${_f} RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "gzip -9nf ${_f} exited ${_rc}")
    endif()
  endforeach()
endforeach()
