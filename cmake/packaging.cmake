# Debian packages with CPack's DEB generator (`make deb`, docs/operator-guide.md
# "Install"): one package per install component, so the packages hold exactly what
# `make install` installs. gpuplex: the CLI, gpuplexd, gpuplex-burn, the
# interposer, docs and whatever else installs with COMPONENT gpuplex (unit, man
# pages); gpuplex-sim: the simulated driver (COMPONENT sim), a test double that no
# production node needs. Paths are those of the configured prefix (`make deb`
# configures build-deb with /usr); dpkg-shlibdeps (dpkg-dev) computes Depends: on
# the runtime libraries from the ELF files themselves, so it cannot drift from
# what the programs link.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gpuplex)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR gpuplex)
set(CPACK_PACKAGE_CONTACT "gpuplex maintainers <maintainers@users.noreply.r-seed-5a640ed6.example>")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
# Debian ships stripped binaries; the symbols stay in the build tree
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL gpuplex sim)
# gpuplex_VERSION_ARCH.deb, gpuplex-sim_VERSION_ARCH.deb
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# 0755 maintainer scripts and 0644 control files whatever the checkout's modes
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
find_program(GPX_DPKG dpkg)
if(GPX_DPKG)
  execute_process(COMMAND ${GPX_DPKG} --print-architecture
                  OUTPUT_VARIABLE CPACK_DEBIAN_PACKAGE_ARCHITECTURE
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()

set(CPACK_DEBIAN_GPUPLEX_PACKAGE_NAME gpuplex)
set(CPACK_DEBIAN_GPUPLEX_DESCRIPTION
    "GPU sharing for AI/ML workloads: leases of GPU memory and compute
gpuplex shares a node's NVIDIA GPUs between users and jobs through leases:
gpuplexd grants, persists and meters them, the gpuplex CLI asks for them,
and an LD_PRELOAD interposer holds each workload to its lease's memory and
compute limits. MIG instances are planned and applied like mig-parted's.")
# prerm stops gpuplexd (when systemd runs it) before its files go; postinst and
# postrm reload systemd's units (packaging/deb/); conffiles lists what it installs
# under /etc, written by cmake/deb-prebuild.cmake once the files are staged (which
# also compresses the man pages)
# (a CPACK_ name: CPackConfig.cmake, which the script reads, carries only those)
set(CPACK_GPUPLEX_DEB_CONFFILES ${CMAKE_BINARY_DIR}/cpack-deb/conffiles)
file(WRITE ${CPACK_GPUPLEX_DEB_CONFFILES} "")
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_SOURCE_DIR}/cmake/deb-prebuild.cmake)
set(CPACK_DEBIAN_GPUPLEX_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/deb/postinst ${CMAKE_SOURCE_DIR}/packaging/deb/prerm
    ${CMAKE_SOURCE_DIR}/packaging/deb/postrm ${CPACK_GPUPLEX_DEB_CONFFILES})

set(CPACK_DEBIAN_SIM_PACKAGE_NAME gpuplex-sim)
set(CPACK_DEBIAN_SIM_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_SIM_DESCRIPTION
    "simulated NVIDIA driver for gpuplex (test double)
An ABI-compatible libnvidia-ml.so.1 and libcuda.so.1 over a shared state
file, for trying and testing gpuplex without GPUs (gpuplex sim init, or
GPUPLEX_SIM). It is never loaded unless selected; production nodes do not
need it.")
# the same version of gpuplex: the simulator's state file format is gpuplex's
set(CPACK_COMPONENT_SIM_DEPENDS gpuplex)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

include(CPack)
